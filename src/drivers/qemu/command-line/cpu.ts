/**
 * `-cpu`: the guest CPU model with its feature switches, Hyper-V
 * enlightenments and KVM paravirtual features.
 *
 * @module
 */
import { unknownContent } from '../../../conf/binding.js';
import type { CpuDef } from '../../../conf/cpu.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { x86Database } from '../../../cpu/index.js';
import { qemuHostModelCpu } from '../caps/host-model.js';
import type { QemuAccel, QemuCaps } from '../probe/qemu-caps.js';
import { optValue } from './escape.js';

/** Whether a sub-element the model keeps as unknown XML (`<stimer><direct state='on'/>`) is on. */
function childState(owner: object, name: string): boolean {
  for (const n of unknownContent(owner)?.nodes ?? []) {
    const el = n.node;
    if (el.type === 'element' && el.name === name)
      return el.attrs.some((a) => a.name === 'state' && a.value === 'on');
  }
  return false;
}

/** QEMU's spelling of a libvirt CPU feature name. */
function qemuFeature(name: string): string {
  return name.replaceAll('_', '-');
}

/**
 * The CPU a `host-model` guest gets: the CPU engine's host-model of QEMU's
 * expansion of the host CPU, keeping only what survives migration.
 */
export function hostModelCpu(caps: QemuCaps, accel: QemuAccel): CpuDef | undefined {
  return qemuHostModelCpu(caps, accel, { migratable: true });
}

export function cpuArgument(def: DomainDef, caps: QemuCaps, accel: QemuAccel): string | undefined {
  const cpu = def.cpu?.mode === 'host-model' ? (hostModelCpu(caps, accel) ?? def.cpu) : def.cpu;
  const parts: string[] = [];
  const mode = cpu?.mode ?? 'custom';
  if (mode === 'host-passthrough') {
    parts.push('host');
    if (cpu?.migratable !== undefined) parts.push(`migratable=${cpu.migratable ? 'on' : 'off'}`);
  } else if (mode === 'maximum') {
    parts.push('max');
  } else if (cpu?.model?.name) {
    parts.push(optValue(cpu.model.name, '/domain/cpu/model'));
  } else if (mode === 'host-model') {
    parts.push(accel === 'kvm' ? 'host' : 'max');
  }
  // A user-chosen model from the CPU map: switching off what the model lacks is a no-op QEMU
  // need not see, and features the map records as removed from QEMU's version of the model are
  // switched off explicitly so the guest keeps the CPU libvirt's model describes.
  const db = x86Database();
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
    if (on || off)
      parts.push(`${optValue(qemuFeature(f.name), '/domain/cpu/feature/@name')}=${on ? 'on' : 'off'}`);
  }
  if (known && !known.removed.isEmpty()) {
    const removed = db.features
      .filter((f) => known.removed.has(f.index) && !mentioned.has(f.name))
      .map((f) => f.name);
    for (const name of removed.sort()) parts.push(`${qemuFeature(name)}=off`);
  }
  const cache = cpu?.cache;
  if (cache?.mode === 'passthrough') parts.push('host-cache-info=on', 'l3-cache=off');
  else if (cache?.mode === 'disable') parts.push('l3-cache=off');
  const phys = cpu?.maxPhysAddr;
  if (phys?.mode === 'emulate') {
    parts.push('host-phys-bits=off');
    if (phys.bits !== undefined) parts.push(`phys-bits=${phys.bits}`);
  } else if (phys?.mode === 'passthrough') parts.push('host-phys-bits=on');

  const timers = def.clock?.timers ?? [];
  for (const t of timers) if (t.name === 'hypervclock' && t.present !== false) parts.push('hv-time=on');
  const kvm = def.features?.kvm;
  if (kvm?.hidden?.state) parts.push('kvm=off');
  if (def.features?.pvspinlock?.state !== undefined)
    parts.push(`kvm-pv-unhalt=${def.features.pvspinlock.state ? 'on' : 'off'}`);
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
      parts.push(`hv-vendor-id=${optValue(hv.vendorId.value, '/domain/features/hyperv/vendor_id/@value')}`);
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
  return parts.length > 0 ? parts.join(',') : undefined;
}
