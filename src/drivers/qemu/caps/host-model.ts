/**
 * The host-model CPU of domain capabilities: the named model, plus feature
 * adjustments, that best describes the CPU QEMU would give a guest with
 * `host` (KVM) or `max` (TCG).
 *
 * The choice follows libvirt's documented behaviour for x86:
 * - start from the features QEMU's static expansion reports as on, in the
 *   map's spelling, minus what QEMU says blocks the model being tried;
 * - try the models QEMU offers, newest first, skipping other vendors and
 *   models not meant for guest definitions;
 * - a model whose signature (family and model) matches the CPU wins over
 *   one that does not;
 * - otherwise the smaller cost wins, where each feature to add costs 1 and
 *   the n-th feature to remove costs n + 1 (removals are what break guests;
 *   libvirt before 10 counted every feature as 1, `removalCost: 'flat'`),
 *   ties going to fewer removals, then to the newer model;
 * - the features QEMU says block the chosen model are disabled as well.
 *
 * @module
 */
import type { DomainCapsCpuMode } from '../../../conf/domaincaps.js';
import type { QemuAccel, QemuCaps } from '../probe/qemu-caps.js';
import type { X86CpuMap, X86CpuMapModel } from './x86-cpu-map.js';

const VENDOR_IDS: Record<string, string> = {
  GenuineIntel: 'Intel',
  AuthenticAMD: 'AMD',
  HygonGenuine: 'Hygon',
  CentaurHauls: 'VIA',
  '  Shanghai  ': 'Zhaoxin',
};

export interface HostModelFacts {
  /** Physical address bits of the host CPU; KVM guests get them passed through. */
  physAddrBits?: number;
  /** How removed features are counted when comparing models. Default `progressive`. */
  removalCost?: 'progressive' | 'flat';
}

export type HostModel = Omit<DomainCapsCpuMode, 'name' | 'supported'>;

interface Candidate {
  model: X86CpuMapModel;
  add: string[];
  remove: string[];
  blockedExtra: string[];
  signatureMatch: boolean;
}

export function resolveHostModel(
  caps: QemuCaps,
  accel: QemuAccel,
  map: X86CpuMap,
  facts: HostModelFacts = {},
): HostModel | undefined {
  if (caps.arch !== 'x86_64' && caps.arch !== 'i686') return undefined;
  const accelCaps = caps.accel[accel];
  const host = accelCaps?.hostCpu;
  if (!accelCaps || !host) return undefined;
  const known = new Set(map.features);
  const order = new Map(map.features.map((f, i) => [f, i]));
  const spell = (q: string) => map.qemuNames.get(q) ?? q;

  const on = new Set<string>();
  let family = 0;
  let modelNo = 0;
  let stepping = 0;
  let vendor: string | undefined;
  for (const p of host.props) {
    if (p.type === 'boolean' && p.value === true) {
      const n = spell(p.name);
      if (known.has(n)) on.add(n);
    } else if (p.name === 'family' && typeof p.value === 'number') family = p.value;
    else if (p.name === 'model' && typeof p.value === 'number') modelNo = p.value;
    else if (p.name === 'stepping' && typeof p.value === 'number') stepping = p.value;
    else if (p.name === 'vendor' && typeof p.value === 'string') vendor = VENDOR_IDS[p.value];
  }
  // Intel parts whose TSX is broken: their hle/rtm must never reach a guest.
  if (
    vendor === 'Intel' &&
    family === 6 &&
    ((modelNo === 63 && stepping < 4) || modelNo === 60 || modelNo === 69 || modelNo === 70)
  ) {
    on.delete('hle');
    on.delete('rtm');
  }

  const offered = new Map(accelCaps.cpuModels.map((m) => [m.name, m]));
  const hasSignature = family !== 0 || modelNo !== 0;
  let best: Candidate | undefined;
  for (let i = map.models.length - 1; i >= 0; i--) {
    const model = map.models[i] as X86CpuMapModel;
    const qemuModel = offered.get(model.name);
    if (!qemuModel || !model.decodeGuest) continue;
    if (vendor && model.vendor && model.vendor !== vendor) continue;
    const blocked = new Set(qemuModel.blockers.map(spell).filter((f) => known.has(f)));
    const usable = new Set([...on].filter((f) => !blocked.has(f)));
    const add = [...usable].filter((f) => !model.features.has(f));
    const remove = [...model.features].filter((f) => known.has(f) && !usable.has(f));
    const blockedExtra = [...blocked].filter((f) => !remove.includes(f));
    const signatureMatch =
      hasSignature &&
      model.signatures.some((s) => s.family === family && (s.model === undefined || s.model === modelNo));
    const cand: Candidate = { model, add, remove, blockedExtra, signatureMatch };
    if (!best || better(cand, best, hasSignature, facts.removalCost === 'flat')) best = cand;
  }
  if (!best) return undefined;

  const byOrder = (a: string, b: string) => (order.get(a) ?? 0) - (order.get(b) ?? 0);
  const features = [
    ...best.add.sort(byOrder).map((name) => ({ policy: 'require', name })),
    ...[...best.remove, ...best.blockedExtra].sort(byOrder).map((name) => ({ policy: 'disable', name })),
  ];
  const out: HostModel = { models: [{ name: best.model.name, fallback: 'forbid' }] };
  if (vendor) out.vendor = vendor;
  if (accel === 'kvm' && facts.physAddrBits !== undefined) {
    out.maxPhysAddr = { mode: 'passthrough', limit: facts.physAddrBits };
  }
  if (features.length > 0) out.features = features;
  return out;
}

function cost(c: Candidate, flat: boolean): { total: number; removal: number } {
  let removal = 0;
  for (let i = 0; i < c.remove.length; i++) removal += flat ? 1 : 2 + i;
  return { total: c.add.length + removal, removal };
}

function better(cand: Candidate, current: Candidate, useSignature: boolean, flat: boolean): boolean {
  if (useSignature && current.signatureMatch !== cand.signatureMatch) return cand.signatureMatch;
  const a = cost(cand, flat);
  const b = cost(current, flat);
  return a.total < b.total || (a.total === b.total && a.removal < b.removal);
}
