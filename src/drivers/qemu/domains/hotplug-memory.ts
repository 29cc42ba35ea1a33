/**
 * Memory devices of a running guest beyond their plug and unplug
 * (`hotplug-kinds.ts`), with libvirt's rules (checked against libvirt 9.0's
 * QEMU driver): a virtio-mem device's `<requested>` size changed by
 * `updateDevice` (QOM `requested-size`; nothing else of a memory device may
 * change), the `<current>` size the guest reached, kept in the live
 * definition when QEMU reports `MEMORY_DEVICE_SIZE_CHANGE`, and the domain's
 * `<memory>` total (boot memory plus every memory device) and balloon size
 * after a device comes or goes.
 *
 * @module
 */
import {
  devicesOf,
  parseDeviceElement,
  readDevice,
  xmlReplacingDevice,
} from '../../../conf/domain/device-edit.js';
import type { MemoryDeviceDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { moveMemoryTotal } from '../../../conf/domain/memory-total.js';
import { VirError } from '../../../errors.js';
import { element, type XmlElement } from '../../../xml/tree.js';
import { childEl, kibOf } from '../command-line/memory-devices.js';
import { cloneDef, type Entry } from './domain-entry.js';
import { commitLive, type HotplugSide, liveParts } from './hotplug-job.js';
import { aliasOf, stampAliases } from './hotplug-kinds.js';
import { withSize } from './memory-size.js';

/** A `<target>` child's size in KiB. */
function targetKiB(m: MemoryDeviceDef, name: string, field: string): number | undefined {
  return kibOf(childEl(m.target, name), `${field}/target/${name}`);
}

function targetText(m: MemoryDeviceDef, name: string): string | undefined {
  const el = childEl(m.target, name);
  if (!el) return undefined;
  return el.children
    .map((c) => (c.type === 'text' ? c.value : ''))
    .join('')
    .trim();
}

/** What libvirt's validation refuses of a virtio-mem device's sizes, whichever definition it goes to. */
function validateVirtioMem(def: DomainDef, m: MemoryDeviceDef, field: string): void {
  if (m.model !== 'virtio-mem') return;
  const detail = (message: string, at: string) =>
    new VirError('XML_DETAIL', 'conf', message, { field: `${field}/target/${at}` });
  const size = targetKiB(m, 'size', field) ?? 0;
  const block = targetKiB(m, 'block', field);
  const requested = targetKiB(m, 'requested', field) ?? 0;
  if (block !== undefined) {
    if (block === 0 || (block & (block - 1)) !== 0)
      throw detail('block size must be a power of two', 'block');
    if (size % block !== 0) throw detail('size must be an integer multiple of block size', 'size');
    if (requested % block !== 0)
      throw detail('requested size must be an integer multiple of block size', 'requested');
  }
  if (requested > size)
    throw detail(`requested size must be smaller than or equal to @size (${size}KiB)`, 'requested');
  const node = targetText(m, 'node');
  const cells = def.cpu?.numa?.cells?.length ?? 0;
  if (node !== undefined && Number(node) >= cells)
    throw detail(
      `can't add memory backend for guest node '${node}' as the guest has only '${cells}' NUMA nodes configured`,
      'node',
    );
}

/** libvirt's look-up of the memory device an update names: the same alias and the same address (none equals none). */
function indexOfDevice(def: DomainDef, probe: MemoryDeviceDef): number {
  const key = (m: MemoryDeviceDef) => `${aliasOf(m) ?? ''}|${JSON.stringify(m.address ?? null)}`;
  return (devicesOf(def, 'memory') as MemoryDeviceDef[]).findIndex((m) => key(m) === key(probe));
}

function unsupported(message: string, field: string): VirError {
  return new VirError('CONFIG_UNSUPPORTED', 'qemu', message, { field });
}

/** libvirt's live update rule: only a virtio-mem device's `<requested>` may change. */
function refuseOtherChanges(old: MemoryDeviceDef, wanted: MemoryDeviceDef, field: string): void {
  if (old.model !== 'virtio-mem')
    throw unsupported(`cannot modify memory of model '${old.model}'`, `${field}/@model`);
  const from = (what: string, a: unknown, b: unknown, at: string) => {
    if (a !== b) throw unsupported(`cannot modify memory ${what} from '${a}' to '${b}'`, `${field}/${at}`);
  };
  from('model', old.model, wanted.model, '@model');
  from('access', old.access ?? 'default', wanted.access ?? 'default', '@access');
  from('discard', old.discard ?? 'default', wanted.discard ?? 'default', '@discard');
  const src = (m: MemoryDeviceDef, name: string) => childEl(m.source, name);
  if (
    JSON.stringify(src(old, 'nodemask')?.children ?? null) !==
    JSON.stringify(src(wanted, 'nodemask')?.children ?? null)
  )
    throw unsupported('cannot modify memory source nodes', `${field}/source/nodemask`);
  const page = (m: MemoryDeviceDef) => kibOf(src(m, 'pagesize'), `${field}/source/pagesize`) ?? 0;
  from('pagesize', page(old), page(wanted), 'source/pagesize');
  from('size', targetKiB(old, 'size', field), targetKiB(wanted, 'size', field), 'target/size');
  const node = (m: MemoryDeviceDef) => Number(targetText(m, 'node') ?? 0);
  from('targetNode', node(old), node(wanted), 'target/node');
  from(
    'block size',
    targetKiB(old, 'block', field) ?? 0,
    targetKiB(wanted, 'block', field) ?? 0,
    'target/block',
  );
  const base = (m: MemoryDeviceDef) =>
    childEl(m.target, 'address')?.attrs.find((a) => a.name === 'base')?.value;
  from('address', base(old) ?? '0x0', base(wanted) ?? '0x0', 'target/address/@base');
}

/** `target` without its `<current>` (a size only the running guest has). */
function withoutCurrent(target: XmlElement | undefined): XmlElement | undefined {
  if (!target) return target;
  return {
    ...target,
    children: target.children.filter((c) => !(c.type === 'element' && c.name === 'current')),
  };
}

/** The device an update of a memory device carries, read as the model reads it. */
function wantedDevice(xml: string): MemoryDeviceDef {
  const { el } = parseDeviceElement(xml);
  const m = readDevice('memory', el) as MemoryDeviceDef;
  const target = withoutCurrent(m.target);
  if (target) m.target = target;
  return m;
}

/** The persistent definition with the memory device `xml` names replaced by it (libvirt replaces it whole). */
export async function updatedMemoryConfig(
  side: HotplugSide,
  config: DomainDef,
  xml: string,
  signal: AbortSignal | undefined,
): Promise<DomainDef> {
  const wanted = wantedDevice(xml);
  validateVirtioMem(config, wanted, '/memory');
  const at = indexOfDevice(config, wanted);
  if (at < 0) throw new VirError('INVALID_ARG', 'qemu', 'memory not found', { field: '/memory' });
  const { el } = parseDeviceElement(xml);
  el.children = el.children.map((c) =>
    c.type === 'element' && c.name === 'target' ? (withoutCurrent(c) as XmlElement) : c,
  );
  return side.prepare(xmlReplacingDevice(config, 'memory', at, el, { inactive: true }), signal);
}

/** Resizes the running virtio-mem device `xml` names to its `<requested>` size; the live definition follows. */
export async function updateMemoryLive(
  e: Entry,
  xml: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const { live, runner } = liveParts(e);
  const base = cloneDef(live);
  stampAliases(base, 'memory');
  const wanted = wantedDevice(xml);
  validateVirtioMem(base, wanted, '/memory');
  const at = indexOfDevice(base, wanted);
  if (at < 0) throw unsupported(`memory '${aliasOf(wanted) ?? '(null)'}' not found`, '/memory/alias/@name');
  const field = `/domain/devices/memory[${at + 1}]`;
  const old = devicesOf(base, 'memory')[at] as MemoryDeviceDef;
  refuseOtherChanges(old, wanted, field);
  const requested = targetKiB(wanted, 'requested', field) ?? 0;
  const alias = aliasOf(old) as string;
  await runner.hotplug.monitorJob(
    'update-device',
    (qmp) =>
      qmp.execute('qom-set', {
        path: `/machine/peripheral/${alias}`,
        property: 'requested-size',
        value: requested * 1024,
      }),
    signal,
  );
  // into the live definition as it is now: a size change the guest reported meanwhile stays
  const now = e.live ?? base;
  stampAliases(now, 'memory');
  const dev = (devicesOf(now, 'memory') as MemoryDeviceDef[]).find((m) => aliasOf(m) === alias);
  if (dev) dev.target = withSize(dev.target ?? element('target'), 'requested', requested, 'block');
  commitLive(e, now);
}

/** Whether the guest has a balloon device (libvirt reads its size from it; without one it is the total). */
function hasBalloon(def: DomainDef): boolean {
  const b = def.devices?.memballoon;
  return b !== undefined && b.model !== 'none';
}

/**
 * The `<memory>` total of `next` after memory device `m` came (`sign` 1) or
 * went (-1): libvirt's total is the boot memory plus every memory device's
 * size. The balloon size follows as libvirt 9.0 reports it: without a
 * balloon device it is the total; with one it is QEMU's balloon figure,
 * which counts a DIMM's size and of a virtio-mem device only what it plugged
 * (that comes with `MEMORY_DEVICE_SIZE_CHANGE`, see `memory-size.ts`).
 */
export function syncMemoryTotals(e: Entry, next: DomainDef, m: MemoryDeviceDef, sign: 1 | -1): void {
  const size = targetKiB(m, 'size', '/memory') ?? 0;
  const runner = e.runner;
  if (size === 0 || !next.memory || !runner) return;
  moveMemoryTotal(next, sign * size);
  const balloon = hasBalloon(next)
    ? runner.getInfo().memory + (m.model === 'virtio-mem' ? 0 : sign * size)
    : next.memory.value;
  runner.hotplug.setMemory(next.memory.value, balloon);
}
