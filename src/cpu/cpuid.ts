/**
 * Raw CPUID/MSR data (`<cpudata>`) → what the engine reasons about: the
 * vendor (leaf 0), the family/model/stepping signature (leaf 1) and the set
 * of known features whose bits are all present.
 *
 * @module
 */
import { type CpuData, CpuData as CpuDataClass } from '../conf/cpu-data.js';
import { VirError } from '../errors.js';
import type { CpuSignatureValue, X86Data } from './x86.js';
import { registerKey, type X86Database, x86Database } from './x86-db.js';

/** Register values by {@link registerKey}. */
export type RegisterValues = Map<string, number>;

export function registersOf(data: CpuData): RegisterValues {
  if (data.arch !== 'x86') {
    throw new VirError('NO_SUPPORT', 'cpu', `CPU data for architecture '${data.arch}' is not supported`, {
      field: 'cpudata/@arch',
    });
  }
  const regs: RegisterValues = new Map();
  const put = (key: string, v: number) => {
    if (v !== 0) regs.set(key, ((regs.get(key) ?? 0) | v) >>> 0);
  };
  for (const c of data.cpuid ?? []) {
    put(registerKey(0, c.eaxIn, c.ecxIn, 0), c.eax);
    put(registerKey(0, c.eaxIn, c.ecxIn, 1), c.ebx);
    put(registerKey(0, c.eaxIn, c.ecxIn, 2), c.ecx);
    put(registerKey(0, c.eaxIn, c.ecxIn, 3), c.edx);
  }
  for (const m of data.msrs ?? []) {
    put(registerKey(1, m.index, 0, 4), m.edx);
    put(registerKey(1, m.index, 0, 5), m.eax);
  }
  return regs;
}

/** Family/model/stepping from a leaf-1 EAX value (extended fields always added, as libvirt does). */
export function signatureFromEax(eax: number): CpuSignatureValue {
  return {
    family: ((eax >>> 20) & 0xff) + ((eax >>> 8) & 0xf),
    model: ((eax >>> 12) & 0xf0) + ((eax >>> 4) & 0xf),
    stepping: eax & 0xf,
  };
}

/** The leaf-1 EAX encoding of a signature (the inverse of {@link signatureFromEax}). */
export function signatureToEax(sig: CpuSignatureValue): number {
  const baseFamily = Math.min(sig.family, 0xf);
  const extFamily = sig.family - baseFamily;
  return (
    (((extFamily & 0xff) << 20) |
      (((sig.model >>> 4) & 0xf) << 16) |
      (baseFamily << 8) |
      ((sig.model & 0xf) << 4) |
      (sig.stepping & 0xf)) >>>
    0
  );
}

/** The signature as libvirt's cputest prints it (`%06x` then family/model/stepping lines). */
export function formatSignature(sig: CpuSignatureValue): string {
  const h2 = (n: number) => n.toString(16).padStart(2, '0');
  return (
    `${signatureToEax(sig).toString(16).padStart(6, '0')}\n` +
    `family: ${String(sig.family).padStart(5)} (0x${h2(sig.family)})\n` +
    `model: ${String(sig.model).padStart(6)} (0x${h2(sig.model)})\n` +
    `stepping: ${String(sig.stepping).padStart(3)} (0x${h2(sig.stepping)})\n`
  );
}

function vendorString(ebx: number, edx: number, ecx: number): string {
  let s = '';
  for (const r of [ebx, edx, ecx])
    for (let i = 0; i < 4; i++) s += String.fromCharCode((r >>> (8 * i)) & 0xff);
  return s;
}

/** Decodes registers into vendor, signature and the features whose bits are all set. */
export function x86DataFromRegisters(regs: RegisterValues, db: X86Database = x86Database()): X86Data {
  const features = db.emptySet();
  for (const f of db.features) {
    if (f.masks.length === 0) continue;
    let all = true;
    for (const m of f.masks) {
      if (((regs.get(m.key) ?? 0) & m.mask) >>> 0 !== m.mask) {
        all = false;
        break;
      }
    }
    if (all) features.add(f.index);
  }
  const out: X86Data = { features };
  const ebx = regs.get(registerKey(0, 0, 0, 1));
  if (ebx !== undefined) {
    const id = vendorString(
      ebx,
      regs.get(registerKey(0, 0, 0, 3)) ?? 0,
      regs.get(registerKey(0, 0, 0, 2)) ?? 0,
    );
    const vendor = db.vendorById(id);
    if (vendor) out.vendor = vendor;
  }
  const eax1 = regs.get(registerKey(0, 1, 0, 0));
  if (eax1 !== undefined) out.signature = signatureFromEax(eax1);
  return out;
}

/** Decodes `<cpudata>` into vendor, signature and feature set. */
export function x86DataFromCpuData(data: CpuData, db: X86Database = x86Database()): X86Data {
  return x86DataFromRegisters(registersOf(data), db);
}

const REGISTERS = ['eax', 'ebx', 'ecx', 'edx'] as const;

function vendorRegisters(id: string): [ebx: number, edx: number, ecx: number] {
  const word = (s: string) => {
    let v = 0;
    for (let i = 0; i < 4; i++) v |= (s.charCodeAt(i) & 0xff) << (8 * i);
    return v >>> 0;
  };
  return [word(id.slice(0, 4)), word(id.slice(4, 8)), word(id.slice(8, 12))];
}

/**
 * Raw CPUID/MSR data for a feature set (plus vendor and signature): what a
 * CPU with exactly these features would report. The inverse of
 * {@link x86DataFromRegisters} for known features.
 */
export function x86DataToCpuData(data: X86Data, db: X86Database = x86Database()): CpuData {
  const cpuid = new Map<string, { eaxIn: number; ecxIn: number; regs: [number, number, number, number] }>();
  const msrs = new Map<number, { edx: number; eax: number }>();
  const leaf = (eaxIn: number, ecxIn: number) => {
    const key = `${eaxIn}:${ecxIn}`;
    let l = cpuid.get(key);
    if (!l) {
      l = { eaxIn, ecxIn, regs: [0, 0, 0, 0] };
      cpuid.set(key, l);
    }
    return l;
  };
  if (data.vendor) {
    const [ebx, edx, ecx] = vendorRegisters(data.vendor.id);
    const l = leaf(0, 0);
    l.regs[1] = ebx;
    l.regs[2] = ecx;
    l.regs[3] = edx;
  }
  if (data.signature) leaf(1, 0).regs[0] = signatureToEax(data.signature);
  for (const i of data.features) {
    for (const m of db.features[i]?.masks ?? []) {
      const parts = m.key.split(':');
      if (parts[0] === 'cpuid') {
        const l = leaf(Number(parts[1]), Number(parts[2]));
        const r = REGISTERS.indexOf(parts[3] as (typeof REGISTERS)[number]);
        l.regs[r] = ((l.regs[r] ?? 0) | m.mask) >>> 0;
      } else {
        const index = Number(parts[1]);
        const msr = msrs.get(index) ?? { edx: 0, eax: 0 };
        if (parts[2] === 'edx') msr.edx = (msr.edx | m.mask) >>> 0;
        else msr.eax = (msr.eax | m.mask) >>> 0;
        msrs.set(index, msr);
      }
    }
  }
  const leaves = [...cpuid.values()].sort((a, b) => a.eaxIn - b.eaxIn || a.ecxIn - b.ecxIn);
  return new CpuDataClass({
    arch: 'x86',
    cpuid: leaves.map((l) => ({
      eaxIn: l.eaxIn,
      ecxIn: l.ecxIn,
      eax: l.regs[0],
      ebx: l.regs[1],
      ecx: l.regs[2],
      edx: l.regs[3],
    })),
    msrs: [...msrs.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([index, v]) => ({ index, edx: v.edx, eax: v.eax })),
  });
}
