/**
 * The checks libvirt makes when it parses a domain that a schema cannot
 * express: names, duplicate disk targets, resctrl allocations that
 * collide, boot order given twice, vCPU counts. Each failure is an
 * `XML_DETAIL` (or `CONFIG_UNSUPPORTED`) naming the element at fault.
 *
 * @module
 */
import { VirError } from '../../errors.js';
import { parseIdSet } from './cpuset.js';
import type { DomainDefData } from './domain-spec.js';

function fail(
  field: string,
  message: string,
  code: 'XML_DETAIL' | 'CONFIG_UNSUPPORTED' = 'XML_DETAIL',
): never {
  throw new VirError(code, 'conf', `${message} (${field})`, { field });
}

export function checkDomain(def: DomainDefData): void {
  if (def.name.length === 0) fail('/domain/name', 'domain name must not be empty');
  if (def.name.includes('/')) fail('/domain/name', `domain name '${def.name}' must not contain '/'`);
  if (/[\n\r]/.test(def.name)) fail('/domain/name', 'domain name must not contain newlines');
  if (def.title !== undefined && /[\n\r]/.test(def.title))
    fail('/domain/title', 'title must not contain newlines');
  if (def.memory && def.memory.value === 0) fail('/domain/memory', 'memory size must be greater than zero');
  const vcpu = def.vcpu;
  if (vcpu?.current !== undefined && vcpu.current > vcpu.count)
    fail('/domain/vcpu/@current', `current vCPU count ${vcpu.current} exceeds the maximum ${vcpu.count}`);
  checkResctrl(def);
  checkDevices(def);
  const blkioPaths = new Set<string>();
  for (const [i, d] of (def.blkiotune?.devices ?? []).entries()) {
    if (blkioPaths.has(d.path))
      fail(
        `/domain/blkiotune/device[${i + 1}]/path`,
        `duplicate blkio device path '${d.path}'`,
        'CONFIG_UNSUPPORTED',
      );
    blkioPaths.add(d.path);
  }
}

function checkResctrl(def: DomainDefData): void {
  const ct = def.cputune;
  if (!ct) return;
  const tuneSets: Array<{ ids: Set<number>; kind: string }> = [];
  for (const [i, t] of (ct.cachetunes ?? []).entries()) {
    const path = `/domain/cputune/cachetune[${i + 1}]`;
    const ids = new Set(parseIdSet(t.vcpus, `${path}/@vcpus`));
    for (const other of tuneSets)
      if ([...ids].some((v) => other.ids.has(v))) fail(`${path}/@vcpus`, 'overlapping vcpus in cachetunes');
    tuneSets.push({ ids, kind: 'cachetune' });
    const seen = new Map<string, string>();
    for (const c of t.caches ?? []) {
      const key = `${c.id}/${c.level}`;
      const prev = seen.get(key);
      if (prev !== undefined && (prev === c.type || prev === 'both' || c.type === 'both'))
        fail(`${path}/cache`, `colliding cache allocations for cache id ${c.id} level ${c.level}`);
      seen.set(key, c.type);
    }
    checkMonitors(t.monitors, ids, path);
  }
  const memSets: Array<Set<number>> = [];
  for (const [i, t] of (ct.memorytunes ?? []).entries()) {
    const path = `/domain/cputune/memorytune[${i + 1}]`;
    const ids = new Set(parseIdSet(t.vcpus, `${path}/@vcpus`));
    for (const other of memSets)
      if ([...ids].some((v) => other.has(v))) fail(`${path}/@vcpus`, 'overlapping vcpus in memorytunes');
    memSets.push(ids);
    // A memorytune may share a cachetune's group only when their vCPUs are identical.
    for (const c of tuneSets) {
      const overlap = [...ids].some((v) => c.ids.has(v));
      const same = overlap && ids.size === c.ids.size && [...ids].every((v) => c.ids.has(v));
      if (overlap && !same)
        fail(`${path}/@vcpus`, 'memorytune vcpus overlap a cachetune with different vcpus');
    }
    const nodes = new Set<number>();
    for (const n of t.nodes ?? []) {
      if (nodes.has(n.id)) fail(`${path}/node`, `memory bandwidth for node ${n.id} given more than once`);
      nodes.add(n.id);
    }
    checkMonitors(t.monitors, ids, path);
  }
}

function checkMonitors(
  monitors: Array<{ vcpus: string }> | undefined,
  tune: Set<number>,
  path: string,
): void {
  const seen: Array<Set<number>> = [];
  for (const m of monitors ?? []) {
    const ids = new Set(parseIdSet(m.vcpus, `${path}/monitor/@vcpus`));
    if ([...ids].some((v) => !tune.has(v)))
      fail(`${path}/monitor`, `monitor vcpus '${m.vcpus}' are not in the tune's vcpus`);
    for (const s of seen)
      if (s.size === ids.size && [...ids].every((v) => s.has(v)))
        fail(`${path}/monitor`, `monitor for vcpus '${m.vcpus}' given more than once`);
    seen.push(ids);
  }
}

function checkDevices(def: DomainDefData): void {
  const dev = def.devices;
  if (!dev) return;
  const targets = new Set<string>();
  for (const [i, d] of (dev.disks ?? []).entries()) {
    if (targets.has(d.target.dev))
      fail(
        `/domain/devices/disk[${i + 1}]/target/@dev`,
        `target '${d.target.dev}' duplicated for disk sources`,
      );
    targets.add(d.target.dev);
  }
  const deviceBoot =
    (dev.disks ?? []).some((d) => d.boot) ||
    (dev.interfaces ?? []).some((n) => n.boot) ||
    (dev.hostdevs ?? []).some((h) => h.boot) ||
    (dev.redirdevs ?? []).some((r) => r.boot);
  if (deviceBoot && def.os?.boot && def.os.boot.length > 0)
    fail(
      '/domain/os/boot',
      'per-device boot elements cannot be used together with os/boot elements',
      'CONFIG_UNSUPPORTED',
    );
  checkInputBuses(def);
  const orders = new Set<number>();
  for (const list of [dev.disks, dev.interfaces, dev.hostdevs, dev.redirdevs])
    for (const d of list ?? []) {
      const o = d.boot?.order;
      if (o === undefined) continue;
      if (orders.has(o)) fail('/domain/devices', `boot order ${o} is used by more than one device`);
      orders.add(o);
    }
  const pciSeen = new Set<string>();
  const all: Array<{ address?: import('./address.js').DeviceAddress }> = [
    ...(dev.disks ?? []),
    ...(dev.controllers ?? []),
    ...(dev.interfaces ?? []),
    ...(dev.videos ?? []),
    ...(dev.sounds ?? []),
    ...(dev.hostdevs ?? []),
    ...(dev.rngs ?? []),
    ...(dev.watchdogs ?? []),
    ...(dev.filesystems ?? []),
  ];
  if (dev.memballoon) all.push(dev.memballoon);
  for (const d of all) {
    const a = d.address;
    if (a?.type !== 'pci' || a.slot === undefined) continue;
    const key = `${a.domain ?? 0}:${a.bus ?? 0}:${a.slot}.${a.function ?? 0}`;
    if (pciSeen.has(key)) fail('/domain/devices', `PCI address ${key} is used by more than one device`);
    pciSeen.add(key);
  }
}

/** Which buses an input may sit on for the kind of guest: PS/2 has only a mouse and a keyboard, Xen's bus only Xen guests. */
function checkInputBuses(def: DomainDefData): void {
  const os = def.os?.type.value;
  for (const [i, input] of (def.devices?.inputs ?? []).entries()) {
    const field = `/domain/devices/input[${i + 1}]/@bus`;
    const pointerOrKeys = input.type === 'mouse' || input.type === 'keyboard';
    if (os === 'hvm') {
      if (input.bus === 'ps2' && !pointerOrKeys)
        fail(field, `ps2 bus does not support ${input.type} input device`, 'CONFIG_UNSUPPORTED');
      if (input.bus === 'xen') fail(field, 'unsupported input bus xen', 'CONFIG_UNSUPPORTED');
    } else if (os === 'xen' || os === 'xenpvh') {
      if (input.bus !== 'xen') fail(field, `unsupported input bus ${input.bus}`, 'CONFIG_UNSUPPORTED');
      if (!pointerOrKeys)
        fail(field, `xen bus does not support ${input.type} input device`, 'CONFIG_UNSUPPORTED');
    }
  }
}
