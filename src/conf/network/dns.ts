/**
 * `<dns>` of a network: forwarders, TXT, SRV and host records for the
 * network's dnsmasq, with libvirt's record rules.
 *
 * @module
 */
import { attr, children, elementMapper, type Infer, req, str, text, uint32, yesNo } from '../binding.js';
import { objectError } from '../object-xml.js';
import { ipCodec } from './addr.js';

const forwarderMapper = elementMapper('forwarder', {
  domain: attr('domain', str),
  addr: attr('addr', ipCodec),
});

const txtMapper = elementMapper('txt', {
  name: attr('name', str),
  value: attr('value', str),
});

const srvMapper = elementMapper('srv', {
  service: attr('service', str),
  protocol: attr('protocol', str),
  domain: attr('domain', str),
  target: attr('target', str),
  port: attr('port', uint32),
  priority: attr('priority', uint32),
  weight: attr('weight', uint32),
});

const hostnameMapper = elementMapper('hostname', { name: req(text(str)) });

const dnsHostMapper = elementMapper('host', {
  ip: attr('ip', ipCodec),
  hostnames: children(hostnameMapper),
});

export const dnsMapper = elementMapper('dns', {
  enable: attr('enable', yesNo),
  forwardPlainNames: attr('forwardPlainNames', yesNo),
  forwarders: children(forwarderMapper),
  txts: children(txtMapper),
  srvs: children(srvMapper),
  hosts: children(dnsHostMapper),
});
export type NetworkDns = Infer<typeof dnsMapper.spec>;

/** RFC 2782's limit on an SRV record less its overhead, as libvirt counts it. */
const SRV_MAX = 512 - 30;
const SERVICE_RE = /^[A-Za-z0-9_\-+/*]+$/;
const PROTOCOL_RE = /^[A-Za-z0-9\-+/]+$/;

/** Checks the records; returns undefined when nothing is left to write. */
export function normalizeDns(d: NetworkDns, field: string): NetworkDns | undefined {
  for (const [i, h] of (d.hosts ?? []).entries()) {
    const at = `${field}/host[${i + 1}]`;
    if (h.ip === undefined)
      throw objectError('XML_ERROR', `${at}/@ip`, 'missing IP address in DNS HOST record');
    if (!h.hostnames) throw objectError('XML_ERROR', `${at}/hostname`, 'missing hostname in DNS HOST record');
  }
  for (const [i, s] of (d.srvs ?? []).entries()) {
    const at = `${field}/srv[${i + 1}]`;
    if (s.service === undefined)
      throw objectError(
        'XML_ERROR',
        `${at}/@service`,
        'missing required service attribute in DNS SRV record',
      );
    if (s.service.length > SRV_MAX)
      throw objectError('XML_ERROR', `${at}/@service`, `service name is longer than ${SRV_MAX} characters`);
    if (!SERVICE_RE.test(s.service))
      throw objectError('XML_ERROR', `${at}/@service`, `invalid character in service '${s.service}'`);
    if (s.protocol === undefined)
      throw objectError(
        'XML_ERROR',
        `${at}/@protocol`,
        'missing required protocol attribute in DNS SRV record',
      );
    if (!PROTOCOL_RE.test(s.protocol))
      throw objectError('XML_ERROR', `${at}/@protocol`, `invalid character in protocol '${s.protocol}'`);
    for (const k of ['port', 'priority', 'weight'] as const) {
      const v = s[k];
      if (v === undefined) continue;
      if (s.target === undefined)
        throw objectError('XML_ERROR', `${at}/@${k}`, `DNS SRV ${k} attribute not permitted without target`);
      if (v > 65535 || (k === 'port' && v < 1))
        throw objectError('XML_ERROR', `${at}/@${k}`, `invalid DNS SRV ${k} attribute`);
      // Zero is libvirt's "unset": it is not written back.
      if (v === 0) delete s[k];
    }
  }
  for (const [i, t] of (d.txts ?? []).entries()) {
    const at = `${field}/txt[${i + 1}]`;
    if (t.name === undefined)
      throw objectError('XML_ERROR', `${at}/@name`, 'missing required name attribute in DNS TXT record');
    if (t.name.includes(' '))
      throw objectError(
        'XML_ERROR',
        `${at}/@name`,
        `prohibited character in DNS TXT record name '${t.name}'`,
      );
    if (t.value === undefined)
      throw objectError(
        'XML_ERROR',
        `${at}/@value`,
        `missing required value attribute in DNS TXT record named '${t.name}'`,
      );
  }
  for (const [i, f] of (d.forwarders ?? []).entries())
    if (f.addr === undefined && f.domain === undefined)
      throw objectError(
        'XML_ERROR',
        `${field}/forwarder[${i + 1}]`,
        'a forwarder needs at least one of addr or domain',
      );
  const records = d.forwarders || d.txts || d.srvs || d.hosts;
  if (d.enable === false && records)
    throw objectError('XML_ERROR', field, 'a disabled DNS server cannot have forwarders or records');
  if (d.enable === undefined && d.forwardPlainNames === undefined && !records) return undefined;
  return d;
}
