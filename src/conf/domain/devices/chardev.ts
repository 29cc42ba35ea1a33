/**
 * Character devices (`<serial>`, `<parallel>`, `<console>`, `<channel>`)
 * and the devices built on a character backend (`<smartcard>` in
 * passthrough mode, `<redirdev>`, the `egd` backend of `<rng>`).
 *
 * A backend has zero, one or two `<source>` elements depending on its
 * `type` (UDP has a connect and a bind end), so sources are a list here
 * and {@link normalizeChardev} applies libvirt's rules to it.
 *
 * @module
 */
import {
  attr,
  child,
  children,
  elementMapper,
  enumOf,
  type Infer,
  onOff,
  req,
  str,
  text,
  trimmed,
  uint32,
  yesNo,
} from '../../binding.js';
import { addressField } from '../address.js';

export const CHARDEV_TYPES = [
  'null',
  'vc',
  'pty',
  'dev',
  'file',
  'pipe',
  'stdio',
  'udp',
  'tcp',
  'unix',
  'spicevmc',
  'spiceport',
  'nmdm',
  'qemu-vdagent',
  'dbus',
] as const;
export type ChardevType = (typeof CHARDEV_TYPES)[number];

export const reconnectMapper = elementMapper('reconnect', {
  enabled: req(attr('enabled', yesNo)),
  timeout: attr('timeout', uint32),
});

export const chardevSourceMapper = elementMapper('source', {
  mode: attr('mode', enumOf(['connect', 'bind'])),
  path: attr('path', str),
  host: attr('host', str),
  service: attr('service', str),
  tls: attr('tls', yesNo),
  append: attr('append', onOff),
  channel: attr('channel', str),
  master: attr('master', str),
  slave: attr('slave', str),
  reconnect: child(reconnectMapper),
  // qemu-vdagent's options
  clipboard: child(elementMapper('clipboard', { copypaste: req(attr('copypaste', yesNo)) })),
  mouse: child(elementMapper('mouse', { mode: req(attr('mode', enumOf(['server', 'client']))) })),
});
export type ChardevSource = Infer<typeof chardevSourceMapper.spec>;

const protocolMapper = elementMapper('protocol', {
  type: req(attr('type', enumOf(['raw', 'telnet', 'telnets', 'tls']))),
});

const logMapper = elementMapper('log', { file: req(attr('file', str)), append: attr('append', onOff) });

export const chardevTargetMapper = elementMapper('target', {
  type: attr('type', str),
  name: attr('name', str),
  state: attr('state', enumOf(['connected', 'disconnected'])),
  address: attr('address', str),
  port: attr('port', str),
  model: child(elementMapper('model', { name: req(attr('name', str)) })),
});
export type ChardevTarget = Infer<typeof chardevTargetMapper.spec>;

/** The fields every character device shares (serial, parallel, console, channel). */
export function chardevSpec() {
  return {
    type: req(attr('type', enumOf(CHARDEV_TYPES))),
    tty: attr('tty', str),
    sources: children(chardevSourceMapper),
    protocol: child(protocolMapper),
    log: child(logMapper),
    target: child(chardevTargetMapper),
    address: addressField(),
  };
}

export const serialMapper = elementMapper('serial', chardevSpec());
export const parallelMapper = elementMapper('parallel', chardevSpec());
export const consoleMapper = elementMapper('console', chardevSpec());
export const channelMapper = elementMapper('channel', chardevSpec());
export type ChardevDef = Infer<ReturnType<typeof chardevSpec>>;

export const smartcardMapper = elementMapper('smartcard', {
  mode: req(attr('mode', enumOf(['host', 'host-certificates', 'passthrough']))),
  type: attr('type', enumOf(CHARDEV_TYPES)),
  certificates: children(elementMapper('certificate', { value: req(text(trimmed)) })),
  sources: children(chardevSourceMapper),
  protocol: child(protocolMapper),
  address: addressField(),
});
export type SmartcardDef = Infer<typeof smartcardMapper.spec>;

export const redirdevMapper = elementMapper('redirdev', {
  bus: req(attr('bus', enumOf(['usb']))),
  type: req(attr('type', enumOf(CHARDEV_TYPES))),
  sources: children(chardevSourceMapper),
  protocol: child(protocolMapper),
  boot: child(elementMapper('boot', { order: req(attr('order', uint32)) })),
  address: addressField(),
});
export type RedirdevDef = Infer<typeof redirdevMapper.spec>;
