/**
 * Storage nodes of network disks (`<disk type='network'>`): nbd, iscsi,
 * rbd, gluster, nfs, ssh and the curl protocols (http, https, ftp, ftps,
 * tftp), with their servers written the way each QEMU driver takes them.
 *
 * Credentials are never written here in clear: passwords, keys and cookies
 * are `-object secret` objects (disk-blockdev.ts writes them), referred to
 * here by id. TLS is refused until its credential objects are built.
 *
 * @module
 */
import { VirError } from '../../../errors.js';
import type { Props } from './device-props.js';
import { attrOf, childEl, type ImageLayer, type NetHost } from './disk-layers.js';
import { checkValue } from './escape.js';

const CURL = new Set(['http', 'https', 'ftp', 'ftps', 'tftp']);

function refuse(what: string, field: string): never {
  throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${what} is not supported by virtkit's QEMU driver yet`, {
    field,
  });
}

/** Source children that carry credentials or need objects of their own. */
function refuseUnbuilt(layer: ImageLayer): void {
  const s = layer.source;
  const f = `${layer.field}/source`;
  for (const name of ['reservations', 'knownHosts', 'slices'])
    if (childEl(s, name)) refuse(`a network disk's <${name}>`, `${f}/${name}`);
  if (attrOf(s, 'tls') === 'yes' && layer.protocol !== 'nbd')
    refuse(`TLS for a '${layer.protocol}' disk`, `${f}/@tls`);
}

function hostField(layer: ImageLayer, i: number): string {
  return `${layer.field}/source/host[${i + 1}]`;
}

function hostName(layer: ImageLayer, h: NetHost, i: number): string {
  if (h.name === undefined) refuse('a network disk host without a name', `${hostField(layer, i)}/@name`);
  return checkValue(h.name, `${hostField(layer, i)}/@name`);
}

function port(layer: ImageLayer, h: NetHost, i: number): string {
  const p = h.port ?? '0';
  if (!/^\d+$/.test(p) || Number(p) > 65535)
    throw new VirError('XML_DETAIL', 'qemu', `port '${p}' is not a TCP port`, {
      field: `${hostField(layer, i)}/@port`,
    });
  return String(Number(p));
}

/** A QAPI SocketAddress: inet with host and port, or a unix socket. */
function socketAddress(layer: ImageLayer, h: NetHost, i: number): Props {
  const t = h.transport ?? 'tcp';
  if (t === 'tcp') return { type: 'inet', host: hostName(layer, h, i), port: port(layer, h, i) };
  if (t === 'unix') {
    if (h.socket === undefined) refuse('a unix host without a socket', `${hostField(layer, i)}/@socket`);
    return { type: 'unix', path: checkValue(h.socket, `${hostField(layer, i)}/@socket`) };
  }
  return refuse(`host transport '${t}'`, `${hostField(layer, i)}/@transport`);
}

function oneHost(layer: ImageLayer): NetHost {
  if (layer.hosts.length !== 1)
    throw new VirError('XML_DETAIL', 'qemu', `protocol '${layer.protocol}' accepts only one host`, {
      field: `${layer.field}/source/host`,
    });
  return layer.hosts[0] as NetHost;
}

function name(layer: ImageLayer): string {
  return checkValue(layer.path ?? '', `${layer.field}/source/@name`);
}

/** `volume/path` names (rbd, gluster) split at the first slash. */
function splitVolume(layer: ImageLayer): [string, string] {
  const n = name(layer);
  const i = n.indexOf('/');
  if (i <= 0)
    throw new VirError('XML_DETAIL', 'qemu', `can't split '${n}' into a pool or volume and an image name`, {
      field: `${layer.field}/source/@name`,
    });
  return [n.slice(0, i), n.slice(i + 1)];
}

/** The id of the auth secret object of a layer's storage node. */
function authSecret(storage: string): string {
  return `${storage}-auth-secret0`;
}

function refuseAuth(layer: ImageLayer): void {
  if (layer.auth) refuse(`<auth> on a '${layer.protocol}' disk`, layer.auth.field);
}

function curlProps(layer: ImageLayer, storage: string): Props {
  const h = oneHost(layer);
  if ((h.transport ?? 'tcp') !== 'tcp')
    refuse(`host transport '${h.transport}'`, `${hostField(layer, 0)}/@transport`);
  const host = hostName(layer, h, 0);
  const p = layer.path ?? '';
  const path = p === '' ? '' : p.startsWith('/') ? p : `/${p}`;
  const query = attrOf(layer.source, 'query');
  // An IPv6 address is bracketed inside a URL.
  const url = `${layer.protocol}://${host.includes(':') ? `[${host}]` : host}:${port(layer, h, 0)}${encodeURI(path)}${
    query !== undefined ? `?${query}` : ''
  }`;
  const out: Props = { url: checkValue(url, `${layer.field}/source`) };
  if (layer.auth) {
    if (layer.auth.username !== undefined)
      out.username = checkValue(layer.auth.username, `${layer.auth.field}/@username`);
    out['password-secret'] = authSecret(storage);
  }
  const verify = attrOf(childEl(layer.source, 'ssl'), 'verify');
  if (verify !== undefined) out.sslverify = verify === 'yes';
  if (layer.cookies !== undefined) out['cookie-secret'] = `${storage}-httpcookie-secret0`;
  const timeout = attrOf(childEl(layer.source, 'timeout'), 'seconds');
  if (timeout !== undefined) out.timeout = Number(timeout);
  const readahead = attrOf(childEl(layer.source, 'readahead'), 'size');
  if (readahead !== undefined) out.readahead = Number(readahead);
  return out;
}

function nfsId(layer: ImageLayer, which: 'user' | 'group'): number | undefined {
  const v = attrOf(childEl(layer.source, 'identity'), which);
  if (v === undefined) return undefined;
  // Names would need the host's passwd database; numeric ids are written as '+N'.
  const m = /^\+?(\d+)$/.exec(v);
  if (!m)
    refuse(
      `an NFS ${which} name (give '+${which === 'user' ? 'uid' : 'gid'}')`,
      `${layer.field}/source/identity/@${which}`,
    );
  return Number(m[1]);
}

/** The storage node of one network layer, without the common node properties. */
export function networkStorageProps(layer: ImageLayer, storage: string): Props {
  refuseUnbuilt(layer);
  const protocol = layer.protocol ?? '';
  const out: Props = {};
  if (layer.cookies !== undefined && protocol !== 'http' && protocol !== 'https')
    refuse(`cookies on a '${protocol}' disk`, `${layer.field}/source/cookies`);
  if (layer.encryption?.engine === 'librbd' && protocol !== 'rbd')
    refuse(`librbd encryption on a '${protocol}' disk`, layer.encryption.field);
  if (CURL.has(protocol)) return { driver: protocol, ...curlProps(layer, storage) };
  switch (protocol) {
    case 'nbd': {
      refuseAuth(layer);
      const h = oneHost(layer);
      out.driver = 'nbd';
      out.server = socketAddress(layer, h, 0);
      if (layer.path !== undefined) out.export = name(layer);
      if (attrOf(layer.source, 'tls') === 'yes') {
        out['tls-creds'] = `obj${storage}_tls0`;
        const hostname = attrOf(layer.source, 'tlsHostname');
        if (hostname !== undefined)
          out['tls-hostname'] = checkValue(hostname, `${layer.field}/source/@tlsHostname`);
      }
      const delay = attrOf(childEl(layer.source, 'reconnect'), 'delay');
      if (delay !== undefined) out['reconnect-delay'] = Number(delay);
      return out;
    }
    case 'iscsi': {
      const h = oneHost(layer);
      if ((h.transport ?? 'tcp') !== 'tcp')
        refuse(`host transport '${h.transport}'`, `${hostField(layer, 0)}/@transport`);
      const n = name(layer);
      const slash = n.indexOf('/');
      const target = slash < 0 ? n : n.slice(0, slash);
      const lun = slash < 0 ? '0' : n.slice(slash + 1);
      if (!/^\d+$/.test(lun))
        throw new VirError('XML_DETAIL', 'qemu', `iSCSI LUN '${lun}' is not a number`, {
          field: `${layer.field}/source/@name`,
        });
      const hn = hostName(layer, h, 0);
      out.driver = 'iscsi';
      out.portal = `${hn.includes(':') ? `[${hn}]` : hn}:${port(layer, h, 0)}`;
      out.target = target;
      out.lun = Number(lun);
      out.transport = 'tcp';
      if (layer.auth) {
        if (layer.auth.username !== undefined)
          out.user = checkValue(layer.auth.username, `${layer.auth.field}/@username`);
        out['password-secret'] = authSecret(storage);
      }
      const iqn = attrOf(childEl(childEl(layer.source, 'initiator'), 'iqn'), 'name');
      if (iqn !== undefined)
        out['initiator-name'] = checkValue(iqn, `${layer.field}/source/initiator/iqn/@name`);
      return out;
    }
    case 'rbd': {
      const [pool, image] = splitVolume(layer);
      out.driver = 'rbd';
      out.pool = pool;
      out.image = image;
      const snap = attrOf(childEl(layer.source, 'snapshot'), 'name');
      if (snap !== undefined) out.snapshot = checkValue(snap, `${layer.field}/source/snapshot/@name`);
      const conf = attrOf(childEl(layer.source, 'config'), 'file');
      if (conf !== undefined) out.conf = checkValue(conf, `${layer.field}/source/config/@file`);
      if (layer.hosts.length > 0)
        out.server = layer.hosts.map((h, i) => ({ host: hostName(layer, h, i), port: port(layer, h, i) }));
      const enc = rbdEncryption(layer, storage);
      if (enc !== undefined) out.encrypt = enc;
      if (layer.auth) {
        if (layer.auth.username !== undefined)
          out.user = checkValue(layer.auth.username, `${layer.auth.field}/@username`);
        // libvirt's choice since its first rbd support: cephx, falling back to none
        out['auth-client-required'] = ['cephx', 'none'];
        out['key-secret'] = authSecret(storage);
      }
      return out;
    }
    case 'gluster': {
      refuseAuth(layer);
      const [volume, path] = splitVolume(layer);
      if (layer.hosts.length === 0) refuse('a gluster disk without hosts', `${layer.field}/source/host`);
      return {
        driver: 'gluster',
        volume,
        path,
        server: layer.hosts.map((h, i) => socketAddress(layer, h, i)),
      };
    }
    case 'nfs': {
      refuseAuth(layer);
      const h = oneHost(layer);
      out.driver = 'nfs';
      out.server = { host: hostName(layer, h, 0), type: 'inet' };
      out.path = name(layer);
      const user = nfsId(layer, 'user');
      const group = nfsId(layer, 'group');
      if (user !== undefined) out.user = user;
      if (group !== undefined) out.group = group;
      return out;
    }
    case 'ssh': {
      const h = oneHost(layer);
      if ((h.transport ?? 'tcp') !== 'tcp')
        refuse(`host transport '${h.transport}'`, `${hostField(layer, 0)}/@transport`);
      out.driver = 'ssh';
      out.path = name(layer);
      out.server = { host: hostName(layer, h, 0), port: port(layer, h, 0) };
      // ssh authenticates with the host's agent or keys; only the user name is given.
      if (layer.auth?.username !== undefined)
        out.user = checkValue(layer.auth.username, `${layer.auth.field}/@username`);
      return out;
    }
    default:
      return refuse(`network disk protocol '${protocol}'`, `${layer.field}/source/@protocol`);
  }
}

const RBD_ENCRYPTION = new Set(['luks', 'luks2', 'luks-any']);

/** librbd's layered encryption: one key per layer, the first the outermost. */
function rbdEncryption(layer: ImageLayer, storage: string): Props | undefined {
  const e = layer.encryption;
  if (e?.engine !== 'librbd') return undefined;
  const format = e.format ?? '';
  if (!RBD_ENCRYPTION.has(format)) refuse(`librbd encryption format '${format}'`, `${e.field}/@format`);
  let inner: Props | undefined;
  for (let i = e.secrets.length; i > 0; i--) {
    const next: Props = { format, 'key-secret': `${storage}-encryption-secret${i - 1}` };
    if (inner) next.parent = inner;
    inner = next;
  }
  return inner;
}
