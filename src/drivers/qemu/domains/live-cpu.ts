/**
 * The guest CPU as QEMU actually created it, checked against the
 * definition before the guest runs (libvirt's update-and-verify of the
 * guest CPU at start).
 *
 * QEMU does not refuse a requested feature the accelerator cannot give (we
 * do not pass `enforce`, as libvirt does not): it filters it out and
 * carries on. So while QEMU waits at `-S` we read the first vCPU's CPUID
 * words back over QOM (`feature-words`: what it enabled, `filtered-features`:
 * what it had to drop) — the same under TCG and KVM — and apply the
 * definition's `check`:
 * - `none`: nothing is refused;
 * - `partial` (the default of a custom model): a feature the guest asked
 *   for (the model's or a `require`) that QEMU dropped fails the start;
 * - `full`: any difference from the definition fails the start.
 * The live definition then shows the CPU the guest got (dropped features
 * as `disable`, added ones as `require`), with `check='full'` as libvirt
 * records it.
 *
 * @module
 */
import { CpuData } from '../../../conf/cpu-data.js';
import type { DomainDef } from '../../../conf/domain/index.js';
import { dataHasFeature, expandCpuFeatures, updateCpuLive } from '../../../cpu/index.js';
import { VirError } from '../../../errors.js';
import type { QmpClient } from '../qmp/index.js';

/** Where QEMU puts the first vCPU when the command line does not name it. */
const FIRST_VCPU = '/machine/unattached/device[0]';

/** One word of QEMU's `X86CPUFeatureWordInfo`. */
interface FeatureWord {
  'cpuid-input-eax': number;
  'cpuid-input-ecx'?: number;
  'cpuid-register': 'EAX' | 'EBX' | 'ECX' | 'EDX';
  features: number;
}

/**
 * Checks and updates `def.cpu` from the running QEMU; throws `CPU_INCOMPATIBLE`.
 * Resolves whether the CPU QEMU made differs from the definition's (libvirt
 * then keeps the original, its `origCPU`, and a memory snapshot's cookie has the CPU).
 */
export async function verifyLiveCpu(def: DomainDef, qmp: QmpClient, signal: AbortSignal): Promise<boolean> {
  const cpu = def.cpu;
  const arch = def.os?.type?.arch ?? 'x86_64';
  if (!cpu || !/^(x86_64|i[3-6]86)$/.test(arch)) return false;
  const mode = cpu.mode ?? 'custom';
  // Only a named model says what the guest must get; host-model is resolved before start.
  if (mode !== 'custom' || !cpu.model?.name) return false;
  const read = async (property: string) =>
    qmp.execute<FeatureWord[]>('qom-get', { path: FIRST_VCPU, property }, { signal });
  const enabled = toCpuData(await read('feature-words'));
  const filtered = toCpuData(await read('filtered-features'));
  const check = cpu.check ?? 'partial';
  if (check !== 'none') {
    const wanted = (expandCpuFeatures(cpu).features ?? []).filter(
      (f) => (f.policy ?? 'require') === 'require',
    );
    const missing = wanted.map((f) => f.name).filter((name) => dataHasFeature(filtered, name));
    if (missing.length > 0) {
      throw new VirError(
        'CPU_INCOMPATIBLE',
        'qemu',
        `the host cannot give CPU '${cpu.model.name}' these required features: ${missing.join(', ')}`,
        { field: '/domain/cpu' },
      );
    }
  }
  let live: ReturnType<typeof updateCpuLive>;
  try {
    live = updateCpuLive(cpu, enabled, filtered);
  } catch (err) {
    if (err instanceof VirError && err.code === 'CPU_INCOMPATIBLE') {
      throw new VirError('CPU_INCOMPATIBLE', 'qemu', `CPU '${cpu.model.name}': ${err.message}`, {
        field: '/domain/cpu',
        cause: err,
      });
    }
    throw err;
  }
  const before = cpuText(def);
  // compared with the definition's own check, which the read-back then sets to full
  if (cpu.check === undefined) delete live.check;
  else live.check = cpu.check;
  def.cpu = live;
  const changed = cpuText(def) !== before;
  live.check = 'full';
  return changed;
}

/** The `<cpu>` element's text, for telling whether the read-back changed it. */
function cpuText(def: DomainDef): string {
  const cpu = def.toElement({ check: false }).children.find((c) => c.type === 'element' && c.name === 'cpu');
  return cpu ? JSON.stringify(cpu) : '';
}

/** QEMU's feature words as the CPU engine's raw CPUID data (one leaf per input, registers filled in). */
function toCpuData(words: readonly FeatureWord[]): CpuData {
  const leaves = new Map<
    string,
    { eaxIn: number; ecxIn: number; eax: number; ebx: number; ecx: number; edx: number }
  >();
  for (const w of Array.isArray(words) ? words : []) {
    const eaxIn = w['cpuid-input-eax'] >>> 0;
    const ecxIn = (w['cpuid-input-ecx'] ?? 0) >>> 0;
    const key = `${eaxIn}:${ecxIn}`;
    let leaf = leaves.get(key);
    if (!leaf) {
      leaf = { eaxIn, ecxIn, eax: 0, ebx: 0, ecx: 0, edx: 0 };
      leaves.set(key, leaf);
    }
    const reg = w['cpuid-register'].toLowerCase() as 'eax' | 'ebx' | 'ecx' | 'edx';
    if (reg in leaf) leaf[reg] = (leaf[reg] | w.features) >>> 0;
  }
  return new CpuData({ arch: 'x86', cpuid: [...leaves.values()], msrs: [] });
}
