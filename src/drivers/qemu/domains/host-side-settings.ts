/**
 * Settings of a definition that libvirt applies on the host side, outside
 * QEMU's command line: cgroup limits and weights (`<cputune>`,
 * `<memtune>`, `<blkiotune>`, `<resource>`), CPU affinity and schedulers
 * of the QEMU threads (`<vcpu cpuset>`, `<cputune>` pins), automatic NUMA
 * placement by numad, security labels (`<seclabel>`), perf events,
 * user-namespace maps (`<idmap>`), lock-manager leases (`<lease>`) and the
 * detach/reattach of managed host devices (`<hostdev managed='yes'>`).
 *
 * virtkit's QEMU driver does none of these yet. A guest asking for them
 * would start without them and nobody would know, so the start is refused
 * instead, naming the first such field (never silently dropped).
 *
 * @module
 */
import { unknownContent } from '../../../conf/binding.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';

export interface HostSideSetting {
  /** XPath-like field of the definition. */
  field: string;
  /** What libvirt would do with it. */
  what: string;
}

/** True when `v` holds any value at all (reading every one of them). */
function holdsAnything(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'object') return true;
  let any = false;
  for (const x of Object.values(v)) if (holdsAnything(x)) any = true;
  return any;
}

/** Every host-side setting `def` asks for, in document order. */
export function hostSideSettings(def: DomainDef): HostSideSetting[] {
  const out: HostSideSetting[] = [];
  const add = (field: string, what: string) => out.push({ field, what });
  if (holdsAnything(def.blkiotune)) add('/domain/blkiotune', 'block I/O weights (cgroups)');
  if (holdsAnything(def.memtune)) add('/domain/memtune', 'memory limits (cgroups)');
  if (def.vcpu?.placement === 'auto') add('/domain/vcpu/@placement', 'automatic placement by numad');
  if (def.vcpu?.cpuset !== undefined) add('/domain/vcpu/@cpuset', 'vCPU thread affinity');
  if (holdsAnything(def.cputune))
    add('/domain/cputune', 'CPU shares, quotas, pins and schedulers (cgroups, affinity)');
  if (holdsAnything(def.resource)) add('/domain/resource', 'a resource partition (cgroups)');
  if (holdsAnything(def.idmap)) add('/domain/idmap', 'user namespace ID maps');
  for (const [i, s] of (def.seclabels ?? []).entries()) {
    const type = s.attrs.find((a) => a.name === 'type')?.value;
    // content is read either way: a label of type none asks for nothing
    const model = s.attrs.find((a) => a.name === 'model')?.value;
    const asks =
      (model !== undefined && model !== 'none') ||
      holdsAnything(s.attrs.filter((a) => a.name !== 'type' && a.name !== 'model')) ||
      holdsAnything(s.children);
    if (type !== 'none' || asks)
      add(`/domain/seclabel[${i + 1}]`, 'a security label (SELinux, AppArmor, DAC)');
  }
  // managed='yes': libvirt unbinds the host device from its driver (and binds vfio-pci) before
  // QEMU starts and gives it back after; virtkit expects it already bound to vfio-pci
  for (const [i, h] of (def.devices?.hostdevs ?? []).entries())
    if (h.managed === true)
      add(
        `/domain/devices/hostdev[${i + 1}]/@managed`,
        "detaching the host device from its driver (managed='yes')",
      );
  // <lease> is kept as XML the model does not type: a lock manager (sanlock, lockd) takes it
  for (const [i, n] of (unknownContent(def.devices ?? {})?.nodes ?? [])
    .filter((x) => x.node.type === 'element' && x.node.name === 'lease')
    .entries())
    if (holdsAnything(n.node)) add(`/domain/devices/lease[${i + 1}]`, 'a lock manager lease');
  for (const [i, e] of (def.perf?.events ?? []).entries())
    if (e.name !== '' && e.enabled) add(`/domain/perf/event[${i + 1}]`, 'perf event counters');
  return out;
}

/** Refuses a start that asks for a host-side setting the driver does not apply. */
export function refuseHostSideSettings(def: DomainDef): void {
  const first = hostSideSettings(def)[0];
  if (first) {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `${first.field}: ${first.what} is applied by libvirt on the host, which virtkit's QEMU driver does not do yet`,
      { field: first.field },
    );
  }
}
