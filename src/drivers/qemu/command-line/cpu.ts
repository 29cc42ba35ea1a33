/**
 * `-cpu`: the guest CPU model with its feature switches, Hyper-V
 * enlightenments and KVM paravirtual features.
 *
 * @module
 */
import { unknownContent } from '../../../conf/binding.js';
import { CpuDef } from '../../../conf/cpu.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { x86Database } from '../../../cpu/index.js';
import { VirError } from '../../../errors.js';
import { qemuHostModelCpu } from '../caps/host-model.js';
import type { QemuAccel, QemuCaps } from '../probe/qemu-caps.js';
import { cpuFeatureName, cpuModelName, hypervVendorId } from './cpu-names.js';

/** Whether a sub-element the model keeps as unknown XML (`<stimer><direct state='on'/>`) is on. */
function childState(owner: object, name: string): boolean {
  for (const n of unknownContent(owner)?.nodes ?? []) {
    const el = n.node;
    if (el.type === 'element' && el.name === name)
      return el.attrs.some((a) => a.name === 'state' && a.value === 'on');
  }
  return false;
}

/** libvirt's CPU feature names QEMU spells differently (facts from libvirt's translation table). */
const QEMU_FEATURE_NAMES: Readonly<Record<string, string>> = {
  pclmuldq: 'pclmulqdq',
  'vmx-invvpid-single-context-noglobals': 'vmx-invept-single-context-noglobals',
};

/** QEMU's spelling of a libvirt CPU feature name (QEMU itself reads `_` and `-` alike). */
function qemuFeature(name: string): string {
  return QEMU_FEATURE_NAMES[name] ?? name.replaceAll('_', '-');
}

/**
 * The CPU a `host-model` guest gets: the CPU engine's host-model of QEMU's
 * expansion of the host CPU, keeping only what survives migration.
 */
export function hostModelCpu(caps: QemuCaps, accel: QemuAccel): CpuDef | undefined {
  return qemuHostModelCpu(caps, accel, { migratable: true });
}

/**
 * A host-model CPU with the guest's own `<feature>`s applied as libvirt
 * applies them: a feature the host model lists takes the guest's policy
 * where it stands, any other is appended in the guest's order.
 */
function withGuestFeatures(host: CpuDef | undefined, guest: CpuDef | undefined): CpuDef | undefined {
  if (!host) return guest;
  const own = guest?.features ?? [];
  if (own.length === 0) return host;
  const features = (host.features ?? []).map((f) => ({ ...f }));
  for (const f of own) {
    const at = features.find((h) => h.name === f.name);
    if (at) {
      if (f.policy !== undefined) at.policy = f.policy;
      else delete at.policy;
    } else features.push({ ...f });
  }
  return new CpuDef({ ...host, features });
}

/**
 * What the start does with a named model's `match` and `fallback`.
 * `exact` and `strict` give the same command line (they differ when a host
 * is compared at define); `minimum` asks libvirt to add the host's other
 * features at start, which virtkit does not do: refused. A model the
 * binary does not list is refused: `fallback='forbid'` says so, and the
 * translation `allow` would do (the closest model QEMU has) is not done.
 */
function checkNamedModel(cpu: CpuDef, caps: QemuCaps, accel: QemuAccel): void {
  const name = cpu.model?.name ?? '';
  const fallback = cpu.model?.fallback;
  if (cpu.match === 'minimum')
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      "match='minimum' (adding the host's other features at start) is not supported yet",
      { field: '/domain/cpu/@match' },
    );
  const known = caps.accel[accel]?.cpuModels ?? [];
  if (known.length === 0 || known.some((m) => m.name === name)) return;
  throw new VirError(
    'CONFIG_UNSUPPORTED',
    'qemu',
    fallback === 'forbid'
      ? `CPU model '${name}' is not supported by ${caps.emulator}`
      : `CPU model '${name}' is not supported by ${caps.emulator}, and choosing another one (fallback='allow') is not supported yet`,
    { field: fallback === 'forbid' ? '/domain/cpu/model' : '/domain/cpu/model/@fallback' },
  );
}

export function cpuArgument(def: DomainDef, caps: QemuCaps, accel: QemuAccel): string | undefined {
  const cpu =
    def.cpu?.mode === 'host-model' ? withGuestFeatures(hostModelCpu(caps, accel), def.cpu) : def.cpu;
  const parts: string[] = [];
  const mode = cpu?.mode ?? 'custom';
  if (mode === 'host-passthrough') {
    parts.push('host');
    if (cpu?.migratable !== undefined) parts.push(`migratable=${cpu.migratable ? 'on' : 'off'}`);
  } else if (mode === 'maximum') {
    parts.push('max');
  } else if (cpu?.model?.name) {
    if (mode === 'custom') checkNamedModel(cpu, caps, accel);
    parts.push(cpuModelName(cpu.model.name));
  } else if (mode === 'host-model') {
    parts.push(accel === 'kvm' ? 'host' : 'max');
  }
  // A user-chosen model from the CPU map: switching off what the model lacks is a no-op QEMU
  // need not see, and features the map records as removed from QEMU's version of the model are
  // switched off explicitly so the guest keeps the CPU libvirt's model describes.
  const db = x86Database();
  // Feature names are checked against the x86 map only where it applies.
  const featureDb = /^(x86_64|i686)$/.test(def.os?.type.arch ?? caps.arch) ? db : undefined;
  const known =
    mode === 'custom' && def.cpu?.mode !== 'host-model' && cpu?.model?.name
      ? db.model(cpu.model.name)
      : undefined;
  const mentioned = new Set<string>();
  for (const f of cpu?.features ?? []) {
    mentioned.add(f.name);
    const on = f.policy === undefined || f.policy === 'require' || f.policy === 'force';
    const off = f.policy === 'disable' || f.policy === 'forbid';
    if (off && known) {
      const feat = db.featureAnyName(f.name);
      if (feat && !known.features.has(feat.index) && !known.removed.has(feat.index)) continue;
    }
    if (on || off) parts.push(`${qemuFeature(cpuFeatureName(f.name, featureDb))}=${on ? 'on' : 'off'}`);
  }
  if (known && !known.removed.isEmpty()) {
    const removed = db.features
      .filter((f) => known.removed.has(f.index) && !mentioned.has(f.name))
      .map((f) => f.name);
    for (const name of removed.sort()) parts.push(`${qemuFeature(name)}=off`);
  }
  // The rest in libvirt's order: timers, paravirtual EOI and spinlocks, Hyper-V, KVM, PMU,
  // then the cache and physical address width.
  for (const t of def.clock?.timers ?? []) {
    if (t.name === 'kvmclock' && t.present !== undefined) parts.push(`kvmclock=${t.present ? 'on' : 'off'}`);
    else if (t.name === 'hypervclock' && t.present === true) parts.push('hv-time=on');
    else if (t.name === 'tsc' && t.frequency !== undefined && t.frequency > 0)
      parts.push(`tsc-frequency=${t.frequency}`);
  }
  const features = def.features;
  if (features?.apic?.eoi !== undefined) parts.push(`kvm-pv-eoi=${features.apic.eoi ? 'on' : 'off'}`);
  if (features?.pvspinlock?.state !== undefined)
    parts.push(`kvm-pv-unhalt=${features.pvspinlock.state ? 'on' : 'off'}`);
  hypervFlags(def, parts);
  // A Hyper-V panic device is the crash MSRs of the CPU, not a device of its own.
  if ((def.devices?.panics ?? []).some((p) => p.model === 'hyperv')) parts.push('hv-crash');
  const kvm = features?.kvm;
  if (kvm) {
    if (kvm.hidden?.state) parts.push('kvm=off');
    if (kvm.hintDedicated?.state) parts.push('kvm-hint-dedicated=on');
    if (kvm.pollControl?.state) parts.push('kvm-poll-control=on');
    if (kvm.pvIpi?.state === false) parts.push('kvm-pv-ipi=off');
  }
  if (features?.pmu?.state !== undefined) parts.push(`pmu=${features.pmu.state ? 'on' : 'off'}`);
  const cache = cpu?.cache;
  if (cache) {
    const hostish = mode === 'host-passthrough' || mode === 'maximum';
    if (cache.mode === 'emulate') {
      parts.push('l3-cache=on');
      if (hostish) parts.push('host-cache-info=off');
    } else if (cache.mode === 'passthrough') parts.push('host-cache-info=on', 'l3-cache=off');
    else if (cache.mode === 'disable') {
      if (hostish) parts.push('host-cache-info=off');
      parts.push('l3-cache=off');
    }
  }
  const phys = cpu?.maxPhysAddr;
  if (phys?.mode === 'passthrough') {
    parts.push('host-phys-bits=on');
    if (phys.limit !== undefined && phys.limit > 0) parts.push(`host-phys-bits-limit=${phys.limit}`);
  } else if (phys?.mode === 'emulate') {
    if (phys.bits !== undefined && phys.bits > 0) parts.push(`phys-bits=${phys.bits}`);
    else parts.push('host-phys-bits=off');
  }
  return parts.length > 0 ? parts.join(',') : undefined;
}

/** Hyper-V enlightenments, in libvirt's order. */
function hypervFlags(def: DomainDef, parts: string[]): void {
  const hv = def.features?.hyperv;
  if (hv && hv.mode === 'passthrough') parts.push('hv-passthrough=on');
  else if (hv) {
    const flag = (name: string, v: { state?: boolean } | undefined) => {
      if (v?.state) parts.push(`hv-${name}=on`);
    };
    flag('relaxed', hv.relaxed);
    flag('vapic', hv.vapic);
    if (hv.spinlocks?.state) parts.push(`hv-spinlocks=0x${(hv.spinlocks.retries ?? 0x1fff).toString(16)}`);
    flag('vpindex', hv.vpindex);
    flag('runtime', hv.runtime);
    flag('synic', hv.synic);
    flag('stimer', hv.stimer);
    if (hv.stimer?.state && childState(hv.stimer, 'direct')) parts.push('hv-stimer-direct=on');
    flag('reset', hv.reset);
    if (hv.vendorId?.state && hv.vendorId.value !== undefined)
      parts.push(`hv-vendor-id=${hypervVendorId(hv.vendorId.value)}`);
    flag('frequencies', hv.frequencies);
    flag('reenlightenment', hv.reenlightenment);
    flag('tlbflush', hv.tlbflush);
    if (hv.tlbflush?.state && childState(hv.tlbflush, 'direct')) parts.push('hv-tlbflush-direct=on');
    if (hv.tlbflush?.state && childState(hv.tlbflush, 'extended')) parts.push('hv-tlbflush-ext=on');
    flag('ipi', hv.ipi);
    flag('evmcs', hv.evmcs);
    flag('avic', hv.avic);
    flag('emsr-bitmap', hv.emsrBitmap);
    flag('xmm-input', hv.xmmInput);
  }
}
