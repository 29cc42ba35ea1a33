/**
 * Live hotplug of host devices (`<hostdev mode='subsystem'>`), as
 * libvirt's `qemuDomainAttachHostDevice` and its detach counterpart do it:
 * PCI functions and mediated devices as `vfio-pci`, USB devices as
 * `usb-host` (a vendor and product found on the host first), SCSI LUNs
 * as a `host_device` (their `/dev/sgN`) or iSCSI backend node under a
 * `scsi-generic` device. The options come from the start's builder
 * (`buildHostdevs`), so a plugged device is the one a start would make;
 * its QEMU id is its alias, `hostdevN` one above the highest in use
 * (libvirt's `qemuAssignDeviceHostdevAlias`).
 *
 * A PCI device with `managed='yes'` is bound to vfio-pci through sysfs
 * (`driver_override`, as the node-device detach) before `device_add`, and
 * given back to its host driver when the plug fails or once the guest
 * released it. The host's files are read under `sysRoot` (tests).
 *
 * @module
 */
import { readdirSync } from 'node:fs';
import { readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { setUnknownContent, unknownContent } from '../../../conf/binding.js';
import type { FoundDevice } from '../../../conf/domain/device-edit.js';
import { type HostdevDef, hostdevMapper } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import { machineFacts } from '../../../machine/machine-types.js';
import { serializeXml, type XmlElement } from '../../../xml/index.js';
import { ArgvBuilder } from '../command-line/argv-builder.js';
import { buildHostdevs } from '../command-line/hostdevs.js';
import { UsbAddresses } from '../command-line/usb-addresses.js';
import { nextNodeNumber } from '../lifecycle/node-numbers.js';
import { detachPci, giveBackPci } from '../nodedev/detach.js';
import type { HostDevice } from '../nodedev/host-devices.js';
import type { QmpClient } from '../qmp/index.js';
import { aliasOf } from './hotplug-kinds.js';
import { qemuVersion } from './hotplug-live.js';
import { type PlugStep, plugSteps, runSteps } from './hotplug-qmp.js';

/** Where the host's device files are (`/`; tests point it elsewhere). */
export interface HostdevRoots {
  /** `/sys`. */
  readonly sysRoot?: string;
  /** `/dev/vhost-vsock`. */
  readonly vhostVsock?: string;
}

/** The host device types that plug live. */
const LIVE_TYPES = new Set(['pci', 'usb', 'scsi', 'mdev']);

const hex = (v: number | undefined, width: number) => (v ?? 0).toString(16).padStart(width, '0');

function fail(
  code: 'CONFIG_UNSUPPORTED' | 'OPERATION_INVALID' | 'OPERATION_FAILED',
  msg: string,
  field: string,
) {
  return new VirError(code, 'qemu', msg, { field });
}

/** `0000:03:07.1` of a PCI host device, or undefined for other types. */
export function pciName(h: HostdevDef): string | undefined {
  const a = h.source?.address as Record<string, number> | undefined;
  if (h.type !== 'pci' || !a || 'type' in a || 'device' in a) return undefined;
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${hex(a.function, 1)}`;
}

/** A printable name of the host device a `<hostdev>` takes, to compare two of them. */
function hostName(h: HostdevDef): string {
  const pci = pciName(h);
  if (pci) return `PCI device ${pci}`;
  const a = h.source?.address as Record<string, unknown> | undefined;
  if (h.type === 'usb' && a && 'device' in a)
    return `USB device ${String(a.bus).padStart(3, '0')}:${String(a.device).padStart(3, '0')}`;
  if (h.type === 'usb') return `USB device ${hex(h.source?.vendor?.id, 4)}:${hex(h.source?.product?.id, 4)}`;
  // the source as XML: its parsed parts carry where they were read, which differs between two definitions
  const source = hostdevMapper
    .write(h)
    .children.find((c): c is XmlElement => c.type === 'element' && c.name === 'source');
  return `${h.type} device ${source ? serializeXml(source) : ''}`;
}

/**
 * Refuses, before anything is sent, what libvirt does not plug live, and a
 * host device some running guest (this one included) already has.
 */
export function refuseHostdevPlug(
  lives: ReadonlyArray<{ name: string; live: DomainDef }>,
  h: HostdevDef,
  field: string,
): void {
  if (h.mode !== 'subsystem')
    throw fail(
      'CONFIG_UNSUPPORTED',
      `hotplug is not supported for hostdev mode '${h.mode}'`,
      `${field}/@mode`,
    );
  if (!LIVE_TYPES.has(h.type))
    throw fail(
      'CONFIG_UNSUPPORTED',
      `hotplug is not supported for hostdev subsys type '${h.type}'`,
      `${field}/@type`,
    );
  // vfio-pci-nohotplug is, as its name says, a device QEMU never plugs live
  if (h.ramfb === true)
    throw fail('CONFIG_UNSUPPORTED', 'a host device with ramfb cannot be hot-plugged', `${field}/@ramfb`);
  refuseUnknownBus(lives[0]?.live ?? ({} as DomainDef), h.address, field);
  refuseHostdevInUse(lives, h, field);
}

/** Refuses a host device one of `lives` (running guests) has already, naming that guest. */
export function refuseHostdevInUse(
  lives: ReadonlyArray<{ name: string; live: DomainDef }>,
  h: HostdevDef,
  field: string,
): void {
  const want = hostName(h);
  for (const { name, live } of lives)
    for (const other of live.devices?.hostdevs ?? [])
      if (other.type === h.type && hostName(other) === want)
        throw fail(
          'OPERATION_INVALID',
          `${want} is in use by driver QEMU, domain ${name}`,
          `${field}/source`,
        );
}

/**
 * Refuses a guest PCI address on a bus the running guest has no controller
 * for: libvirt's address check (it adds buses at define, not live).
 */
export function refuseUnknownBus(base: DomainDef, address: unknown, field: string): void {
  const a = address as { type?: string; bus?: number } | undefined;
  if (a?.type !== 'pci' || (a.bus ?? 0) === 0) return;
  const buses = (base.devices?.controllers ?? []).filter((c) => c.type === 'pci').map((c) => c.index ?? 0);
  if (buses.includes(a.bus ?? 0)) return;
  const top = Math.max(0, ...buses);
  throw new VirError(
    'XML_ERROR',
    'qemu',
    `Invalid PCI address on bus 0x${hex(a.bus, 2)}. Only PCI buses up to ${top} are available`,
    { field: `${field}/address/@bus` },
  );
}

/**
 * Gives a host device or vsock its `<alias>` (replacing any) where libvirt
 * writes it: after the host device's source and boot order, the vsock's CID.
 */
export function setAliasAfter(device: object, name: string, after: readonly string[]): void {
  const c = unknownContent(device) ?? { attrs: [], nodes: [] };
  const nodes = c.nodes.filter((n) => !(n.node.type === 'element' && n.node.name === 'alias'));
  const present = after.filter((k) => (device as Record<string, unknown>)[k] !== undefined);
  nodes.push({
    after: present[present.length - 1] ?? null,
    node: { type: 'element', name: 'alias', attrs: [{ name: 'name', value: name }], children: [] },
  });
  setUnknownContent(device, { attrs: c.attrs, nodes });
}

/** Where a host device's alias goes. */
export const HOSTDEV_ALIAS_AFTER = ['source', 'boot'] as const;

/** Writes the start's ids of the host devices as aliases into the live definition, where one has none. */
export function stampHostdevAliases(live: DomainDef): void {
  let n = (live.devices?.interfaces ?? []).filter((i) => i.type === 'hostdev').length;
  for (const h of live.devices?.hostdevs ?? []) {
    const a = aliasOf(h);
    if (a?.startsWith('ua-')) continue;
    if (a === undefined) setAliasAfter(h, `hostdev${n}`, HOSTDEV_ALIAS_AFTER);
    n++;
  }
}

/** libvirt's rule for a new host device's alias: one above the highest `hostdevN` of the guest. */
export function nextHostdevAlias(live: DomainDef): string {
  let next = (live.devices?.interfaces ?? []).filter((i) => i.type === 'hostdev').length;
  for (const h of live.devices?.hostdevs ?? []) {
    const m = /^hostdev(\d+)$/.exec(aliasOf(h) ?? '');
    if (m) next = Math.max(next, Number(m[1]) + 1);
  }
  return `hostdev${next}`;
}

/**
 * Finds a USB device by vendor and product under `sysRoot` and writes its bus and device into `h`
 * (libvirt's lookup at start and at hot-plug); a device with its bus and device given is left as it is.
 */
export async function findUsb(h: HostdevDef, sysRoot: string, field: string): Promise<void> {
  const src = h.source;
  if (!src || (src.address && 'device' in src.address)) return;
  const vendor = src.vendor?.id;
  const product = src.product?.id;
  const dir = join(sysRoot, 'bus/usb/devices');
  const hits: Array<{ bus: number; device: number }> = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.includes(':')) continue;
    const read = (f: string) =>
      readFile(join(dir, name, f), 'utf8').then(
        (s) => s.trim(),
        () => '',
      );
    if (Number.parseInt(await read('idVendor'), 16) !== vendor) continue;
    if (product !== undefined && Number.parseInt(await read('idProduct'), 16) !== product) continue;
    hits.push({ bus: Number(await read('busnum')), device: Number(await read('devnum')) });
  }
  const id = `${hex(vendor, 4)}:${hex(product, 4)}`;
  if (hits.length === 0) throw fail('OPERATION_FAILED', `Did not find USB device ${id}`, `${field}/source`);
  if (hits.length > 1)
    throw fail(
      'OPERATION_FAILED',
      `Multiple USB devices for ${id}, use <address> to specify one`,
      `${field}/source`,
    );
  src.address = hits[0] as { bus: number; device: number };
}

/** The `/dev/sgN` of a LUN on a host SCSI adapter (`scsi_hostH`), from sysfs. */
export function scsiGeneric(sysRoot: string, field: string) {
  return (lun: { adapter: string; bus: number; target: number; unit: number }): string => {
    const host = /^scsi_host(\d+)$/.exec(lun.adapter)?.[1];
    const name = `${host ?? lun.adapter}:${lun.bus}:${lun.target}:${lun.unit}`;
    let sg: string | undefined;
    try {
      sg =
        host === undefined
          ? undefined
          : readdirSync(join(sysRoot, 'bus/scsi/devices', name, 'scsi_generic'))[0];
    } catch {
      sg = undefined;
    }
    if (sg === undefined)
      throw fail(
        'OPERATION_FAILED',
        `host SCSI device ${lun.adapter}:${lun.bus}:${lun.target}:${lun.unit} has no SCSI generic device on this host`,
        `${field}/source/adapter`,
      );
    return `/dev/${sg}`;
  };
}

/** The monitor steps that make `h` (id `alias`) in the guest, with the start's builder. */
export async function hostdevSteps(
  qmp: QmpClient,
  next: DomainDef,
  h: HostdevDef,
  alias: string,
  field: string,
  sysRoot: string,
): Promise<PlugStep[]> {
  const facts = machineFacts(next.os?.type?.machine ?? '');
  const b = new ArgvBuilder(true, await qemuVersion(qmp));
  const usb = h.type === 'usb' ? new UsbAddresses(next) : undefined;
  // the builder numbers what it writes: give it this device alone, and the id it has
  const one = Object.assign(Object.create(next) as DomainDef, {
    devices: { ...next.devices, interfaces: [], hostdevs: [h] },
  });
  const node = h.type === 'scsi' ? await nextNodeNumber(qmp) : 1;
  buildHostdevs(b, one, facts, new Map(), (d) => usb?.props(d) ?? {}, {
    firstNode: node,
    scsiHostDevice: scsiGeneric(sysRoot, field),
  });
  const steps = plugSteps(b.argv, field);
  return steps.map((s) => (s.command === 'device_add' ? { ...s, args: { ...s.args, id: alias } } : s));
}

/** The sysfs view of one host PCI function, as the node-device detach takes it. */
export async function pciDevice(name: string, sysRoot: string, field: string): Promise<HostDevice> {
  const dir = await realpath(join(sysRoot, 'bus/pci/devices', name)).catch(() => undefined);
  if (!dir)
    throw fail('OPERATION_FAILED', `PCI device ${name} not found on this host`, `${field}/source/address`);
  const driver = await realpath(join(dir, 'driver')).then(
    (p) => p.split('/').pop(),
    () => undefined,
  );
  return {
    name: `pci_${name.replace(/[:.]/g, '_')}`,
    sysfsPath: dir,
    parent: undefined,
    caps: ['pci'],
    xml: { type: 'element', name: 'device', attrs: [], children: [] },
    driver,
  };
}

/** Where the detach's checks read the host's state. */
export function detachSources(sysRoot: string) {
  return { sysRoot, mountinfo: '/proc/self/mountinfo', swaps: '/proc/swaps' };
}

/** Gives a managed PCI device back to its host driver (nothing for others). */
export async function reattachHostdev(h: HostdevDef, roots: HostdevRoots = {}): Promise<void> {
  const name = pciName(h);
  if (h.managed !== true || !name) return;
  const sysRoot = roots.sysRoot ?? '/sys';
  await giveBackPci(await pciDevice(name, sysRoot, '/hostdev'));
}

/**
 * Plugs `added` (a `<hostdev>` of `next`, id `alias`): the host side first
 * (a managed PCI device bound to vfio-pci, a USB device found by vendor),
 * then its options as monitor commands; all undone when one fails.
 */
export async function plugHostdev(
  qmp: QmpClient,
  next: DomainDef,
  added: FoundDevice,
  alias: string,
  roots: HostdevRoots,
  signal: AbortSignal | undefined,
): Promise<void> {
  const h = added.device as HostdevDef;
  const sysRoot = roots.sysRoot ?? '/sys';
  if (h.type === 'usb') await findUsb(h, sysRoot, added.field);
  const name = pciName(h);
  const managed = h.managed === true && name !== undefined;
  if (managed)
    await detachPci(await pciDevice(name, sysRoot, added.field), 'vfio-pci', detachSources(sysRoot));
  try {
    const steps = await hostdevSteps(qmp, next, h, alias, added.field, sysRoot);
    await runSteps(qmp, steps, signal);
  } catch (err) {
    if (managed) await reattachHostdev(h, roots).catch(() => {});
    throw err;
  }
}

/** The backend node under a plugged SCSI host device (its `drive`), to delete once QEMU deleted it. */
export async function hostdevNodes(qmp: QmpClient, h: HostdevDef, id: string): Promise<string[]> {
  if (h.type !== 'scsi') return [];
  const node = await qmp
    .execute<string>('qom-get', { path: `/machine/peripheral/${id}`, property: 'drive' })
    .catch(() => '');
  return node ? [node] : [];
}
