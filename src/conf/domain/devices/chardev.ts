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
  type Codec,
  child,
  children,
  childText,
  elementMapper,
  enumOf,
  type Infer,
  int,
  onOff,
  refine,
  req,
  str,
  text,
  trimmed,
  uint32,
  yesNo,
} from '../../binding.js';
import { addressField } from '../address.js';

/** The `type` values of a character device's host side (`pty`, `file`, `unix`, `tcp`, ...). */
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
/** One of `CHARDEV_TYPES`. */
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
/** A character device (serial, console, parallel, channel) as the models hold it. */
export type ChardevDef = Infer<ReturnType<typeof chardevSpec>>;

export const smartcardMapper = elementMapper('smartcard', {
  mode: req(attr('mode', enumOf(['host', 'host-certificates', 'passthrough']))),
  type: attr('type', enumOf(CHARDEV_TYPES)),
  certificates: children(elementMapper('certificate', { value: req(text(trimmed)) })),
  database: childText('database', str),
  sources: children(chardevSourceMapper),
  protocol: child(protocolMapper),
  log: child(logMapper),
  address: addressField(),
});
export type SmartcardDef = Infer<typeof smartcardMapper.spec>;

export const redirdevMapper = elementMapper('redirdev', {
  bus: req(attr('bus', enumOf(['usb']))),
  type: req(attr('type', enumOf(CHARDEV_TYPES))),
  sources: children(chardevSourceMapper),
  protocol: child(protocolMapper),
  log: child(logMapper),
  boot: child(elementMapper('boot', { order: req(attr('order', uint32)) })),
  address: addressField(),
});
export type RedirdevDef = Infer<typeof redirdevMapper.spec>;

const versionText = refine(str, (s) =>
  /^\d{1,2}\.\d{1,2}$/.test(s) ? undefined : `'${s}' is not a USB version (major.minor, below 100 each)`,
);

/**
 * A USB version as libvirt writes it (`J.MM`), held as the BCD number
 * USB uses (`0x0940` for 9.40). One digit after the dot counts as tens,
 * so `9.4` is 9.40, not 9.04.
 */
const usbVersion: Codec<number> = {
  parse(raw) {
    const m = /^(\d{1,2})\.(\d{1,2})$/.exec(versionText.parse(raw)) ?? ['', '0', '0'];
    const [major, minorText] = [Number(m[1]), m[2] ?? '0'];
    const minor = Number(minorText) * (minorText.length === 1 ? 10 : 1);
    return (
      (Math.floor(major / 10) << 12) | ((major % 10) << 8) | (Math.floor(minor / 10) << 4) | (minor % 10)
    );
  },
  format(v) {
    const major = ((v >> 12) & 0xf) * 10 + ((v >> 8) & 0xf);
    const minor = ((v >> 4) & 0xf) * 10 + (v & 0xf);
    return `${major}.${String(minor).padStart(2, '0')}`;
  },
};

/** Upper-case fixed-width hex (`0x15E1`), as libvirt writes USB ids. */
function upperHex(width: number, max: number): Codec<number> {
  const inner = int({ min: 0, max });
  return { parse: inner.parse, format: (n) => `0x${n.toString(16).toUpperCase().padStart(width, '0')}` };
}

/** `<redirfilter>`: which USB devices the redirected ports accept, first match wins. */
export const redirfilterMapper = elementMapper('redirfilter', {
  usbdevs: children(
    elementMapper('usbdev', {
      class: attr('class', upperHex(2, 0xff)),
      vendor: attr('vendor', upperHex(4, 0xffff)),
      product: attr('product', upperHex(4, 0xffff)),
      version: attr('version', usbVersion),
      allow: req(attr('allow', yesNo)),
    }),
  ),
});
export type RedirfilterDef = Infer<typeof redirfilterMapper.spec>;
