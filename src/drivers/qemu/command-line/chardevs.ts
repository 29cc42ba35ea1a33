/**
 * The guest end of character devices: serial ports, parallel ports,
 * consoles and channels (virtio-serial ports, guestfwd), each after its
 * `-chardev` (chardev-backend.ts), in libvirt's order.
 *
 * @module
 */
import type { ChardevDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { ArgvBuilder } from './argv-builder.js';
import { buildChardev, type ChardevContext } from './chardev-backend.js';
import { type Props, pciProps } from './device-props.js';
import { checkValue } from './escape.js';
import type { CommandLinePaths } from './types.js';
import type { UsbAddrFn } from './usb-addresses.js';

/** Serial target models built as `-device` (platform UARTs are not: they are the machine's). */
const SERIAL_DEVICE_MODELS = new Set([
  'isa-serial',
  'usb-serial',
  'pci-serial',
  'spapr-vty',
  'sclpconsole',
  'sclplmconsole',
  'isa-debugcon',
]);

export function buildChardevs(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  paths: CommandLinePaths,
  usbAddr: UsbAddrFn,
): void {
  const ctx: ChardevContext = { b, paths, qemuVersion: b.qemuVersion };
  const dev = def.devices ?? {};
  const spice = (dev.graphics ?? []).some((g) => g.type === 'spice');
  buildSmartcards(ctx, def);
  for (const [i, s] of (dev.serials ?? []).entries()) {
    const field = `/domain/devices/serial[${i + 1}]`;
    // A spiceport serial without SPICE to carry it is left out, as libvirt does.
    if (s.type === 'spiceport' && !spice) continue;
    const alias = `serial${i}`;
    buildChardev(ctx, s, `char${alias}`, alias, field);
    const model = s.target?.model?.name ?? 'isa-serial';
    if (!SERIAL_DEVICE_MODELS.has(model)) {
      b.add('-serial', `chardev:char${alias}`);
      continue;
    }
    const p: Props = { driver: model, chardev: `char${alias}`, id: alias };
    if (model === 'isa-serial') p.index = Number(s.target?.port ?? i);
    const a = s.address;
    if (a?.type === 'isa') {
      if (a.iobase !== undefined) p.iobase = a.iobase;
      if (a.irq !== undefined) p.irq = a.irq;
    } else if (model === 'usb-serial') Object.assign(p, usbAddr(s));
    else Object.assign(p, pciProps(a, facts));
    b.props('-device', p, field);
  }
  for (const [i, p] of (dev.parallels ?? []).entries()) {
    const field = `/domain/devices/parallel[${i + 1}]`;
    const alias = `parallel${i}`;
    // QEMU numbers its isa-parallel ports in command-line order (LPT1, LPT2, ...) and has no
    // index for them: a port other than the device's place cannot be honoured
    const port = p.target?.port;
    if (port !== undefined && Number(port) !== i)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `parallel port ${port} is not the device's place (${i}) among the parallel ports, which QEMU numbers in order`,
        { field: `${field}/target/@port` },
      );
    buildChardev(ctx, p, `char${alias}`, alias, field);
    b.props('-device', { driver: 'isa-parallel', chardev: `char${alias}`, id: alias }, field);
  }
  for (const [i, c] of (dev.channels ?? []).entries())
    buildChannel(ctx, c, `channel${i}`, `/domain/devices/channel[${i + 1}]`);
  for (const [i, c] of (dev.consoles ?? []).entries()) {
    const type = c.target?.type ?? 'serial';
    if (type === 'serial') continue; // the first serial port, already built
    const field = `/domain/devices/console[${i + 1}]`;
    const alias = `console${i}`;
    if (type !== 'virtio' && type !== 'sclp' && type !== 'sclplm')
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `console target type '${type}'`, {
        field: `${field}/target/@type`,
      });
    buildChardev(ctx, c, `char${alias}`, alias, field);
    if (type === 'virtio')
      b.props('-device', virtioSerialPort('virtconsole', c, alias, 0, undefined, field), field);
    else b.props('-device', { driver: `${type}console`, chardev: `char${alias}`, id: alias }, field);
  }
}

/**
 * One `<channel>` under `alias` (`channelN`: its place at start, a free
 * number when plugged live): its chardev `char<alias>`, then a guestfwd
 * netdev or a virtserialport.
 */
export function buildChannel(ctx: ChardevContext, c: ChardevDef, alias: string, field: string): void {
  const { b, paths } = ctx;
  buildChardev(ctx, withChannelPath(c, paths), `char${alias}`, alias, field);
  if (c.target?.type === 'guestfwd') {
    b.props(
      '-netdev',
      {
        type: 'user',
        guestfwd: [{ str: `tcp:${guestfwdTarget(c, field)}-chardev:char${alias}` }],
        id: alias,
      },
      field,
    );
    return;
  }
  if (c.target?.type !== 'virtio')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `channel target type '${c.target?.type ?? ''}'`, {
      field: `${field}/target/@type`,
    });
  let name = c.target.name;
  if (c.type === 'spicevmc') {
    if (name !== undefined && name !== 'com.redhat.spice.0')
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `spicevmc channel name '${name}'`, {
        field: `${field}/target/@name`,
      });
    name = 'com.redhat.spice.0';
  }
  b.props('-device', virtioSerialPort('virtserialport', c, alias, 1, name, field), field);
}

/**
 * A `unix` virtio channel without a path listens on one libvirt makes up
 * in the domain's channel dir, named after the target (or its port). A
 * started guest has it in its live definition already (domains/channel-sockets.ts);
 * this is for a command line made from a definition alone (domxml-to-native).
 */
function withChannelPath(c: ChardevDef, paths: CommandLinePaths): ChardevDef {
  const path = generatedChannelPath(c, paths.channelDir ?? paths.domainDir);
  return path === undefined ? c : { ...c, sources: [{ ...c.sources?.[0], mode: 'bind', path }] };
}

/**
 * The socket path libvirt makes up in `dir` for a `unix` virtio channel
 * without one; undefined for every other channel.
 */
export function generatedChannelPath(c: ChardevDef, dir: string): string | undefined {
  const file = channelSocketFile(c);
  return file === undefined || c.sources?.[0]?.path ? undefined : `${dir}/${file}`;
}

/**
 * The file name of a generated channel socket: the target's name, or
 * `vioser-CC-BB-PP.sock` after its virtio-serial address; undefined for a
 * channel that is not a `unix` virtio one.
 */
export function channelSocketFile(c: ChardevDef): string | undefined {
  if (c.type !== 'unix' || c.target?.type !== 'virtio') return undefined;
  const a = c.address?.type === 'virtio-serial' ? c.address : undefined;
  const two = (n: number | undefined) => String(n ?? 0).padStart(2, '0');
  return c.target.name ?? `vioser-${two(a?.controller)}-${two(a?.bus)}-${two(a?.port)}.sock`;
}

function virtioSerialPort(
  driver: string,
  c: ChardevDef,
  alias: string,
  firstPort: number,
  name: string | undefined,
  field: string,
): Props {
  const a = c.address?.type === 'virtio-serial' ? c.address : undefined;
  // Without an address (a virtio console, as libvirt leaves it) QEMU picks the port itself.
  const p: Props = a
    ? { driver, bus: `virtio-serial${a.controller ?? 0}.${a.bus ?? 0}`, nr: a.port ?? firstPort }
    : { driver };
  p.chardev = `char${alias}`;
  p.id = alias;
  if (name !== undefined) p.name = checkValue(name, `${field}/target/@name`);
  return p;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * `address:port` of a guestfwd rule. QEMU parses the whole rule
 * (`tcp:ADDR:PORT-chardev:ID`, or `cmd:...`), so only an IPv4 address and
 * a port number may go in: anything else could rewrite the rule.
 */
function guestfwdTarget(c: ChardevDef, field: string): string {
  const addr = c.target?.address ?? '';
  const port = c.target?.port ?? '';
  if (!IPV4.test(addr))
    throw new VirError('XML_DETAIL', 'qemu', `${field}: guestfwd address '${addr}' is not an IPv4 address`, {
      field: `${field}/target/@address`,
    });
  const n = /^\d{1,5}$/.test(port) ? Number(port) : Number.NaN;
  if (!(n >= 1 && n <= 65535))
    throw new VirError('XML_DETAIL', 'qemu', `${field}: guestfwd port '${port}' is not a port number`, {
      field: `${field}/target/@port`,
    });
  return `${addr}:${n}`;
}

/** libvirt's NSS database for `host-certificates` smartcards. */
export const SMARTCARD_NSS_DB = '/etc/pki/nssdb';

/** `<smartcard>` on its CCID controller: an emulated card (host NSS) or a passthrough chardev. */
function buildSmartcards(ctx: ChardevContext, def: DomainDef): void {
  const cards = def.devices?.smartcards ?? [];
  for (const [i, s] of cards.entries()) {
    const field = `/domain/devices/smartcard[${i + 1}]`;
    const alias = `smartcard${i}`;
    const a = s.address?.type === 'ccid' ? s.address : undefined;
    // libvirt's rule: QEMU's CCID reader holds one card, on the first controller's slot 0
    if (cards.length > 1)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'only one smartcard is supported', { field });
    if ((a?.controller ?? 0) !== 0 || (a?.slot ?? 0) !== 0)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        "a smartcard goes in slot 0 of CCID controller 0 (QEMU's reader has one slot)",
        { field: `${field}/address` },
      );
    const bus = 'ccid0.0';
    let p: Props;
    if (s.mode === 'host') p = { driver: 'ccid-card-emulated', backend: 'nss-emulated' };
    else if (s.mode === 'host-certificates') {
      const certs = s.certificates ?? [];
      if (certs.length !== 3)
        throw new VirError('XML_DETAIL', 'qemu', `${field}: host-certificates needs exactly 3 certificates`, {
          field: `${field}/certificate`,
        });
      p = { driver: 'ccid-card-emulated', backend: 'certificates' };
      for (const [j, c] of certs.entries())
        p[`cert${j + 1}`] = checkValue(c.value, `${field}/certificate[${j + 1}]`);
      p.db = checkValue(s.database ?? SMARTCARD_NSS_DB, `${field}/database`);
    } else {
      if (s.type === undefined)
        throw new VirError('XML_DETAIL', 'qemu', `${field}: passthrough needs a type`, {
          field: `${field}/@type`,
        });
      buildChardev(ctx, { ...s, type: s.type }, `char${alias}`, alias, field, 'smartcard');
      p = { driver: 'ccid-card-passthru', chardev: `char${alias}` };
    }
    ctx.b.props('-device', { ...p, id: alias, bus }, field);
  }
}
