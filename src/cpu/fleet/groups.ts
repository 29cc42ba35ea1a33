/**
 * Per host group: the migratable baseline (the guest CPU every member can
 * run and pass on, libvirt's `baselineCpu` with `migratable` over what each
 * member offers) and the best named model, the one with the most features
 * that a plain `custom` guest can start with on every member.
 *
 * @module
 */
import { CpuDef } from '../../conf/cpu.js';
import { VirError } from '../../errors.js';
import { baselineX86 } from '../x86.js';
import { x86Database } from '../x86-db.js';
import { checkStart } from './check.js';
import { type PreparedGuest, prepareGuestCpu } from './guest.js';
import type { PreparedHost } from './host.js';
import type { FleetGroupPlan } from './types.js';

/** Default groups: one per architecture and vendor among hosts whose CPU is known. */
export function defaultGroups(hosts: readonly PreparedHost[]): Map<string, PreparedHost[]> {
  const out = new Map<string, PreparedHost[]>();
  for (const h of hosts) {
    if (!h.offered) continue;
    const key = `${h.arch}/${h.vendor ?? 'unknown'}`;
    const list = out.get(key) ?? [];
    list.push(h);
    out.set(key, list);
  }
  return out;
}

let plainGuests: PreparedGuest[] | undefined;

/** One `custom` guest per model of the database, newest last, reused by every plan. */
function modelGuests(): PreparedGuest[] {
  plainGuests ??= x86Database().models.map((m, i) =>
    prepareGuestCpu(
      new CpuDef({ mode: 'custom', match: 'exact', model: { fallback: 'forbid', name: m.name } }),
      {
        name: m.name,
        arch: undefined,
        source: undefined,
        field: `models[${i + 1}]`,
      },
    ),
  );
  return plainGuests;
}

export function planGroup(name: string, members: readonly PreparedHost[]): FleetGroupPlan {
  const out: FleetGroupPlan = {
    name,
    hosts: members.map((h) => h.name),
    baseline: undefined,
    bestModel: undefined,
    error: undefined,
  };
  const unknown = members.filter((h) => !h.offeredCpu);
  if (members.length === 0 || unknown.length > 0) {
    out.error = {
      code: 'CPU_INCOMPATIBLE',
      message:
        members.length === 0
          ? 'the group has no hosts'
          : `the CPU of ${unknown.map((h) => h.name).join(', ')} is unknown`,
    };
    return out;
  }
  const arches = new Set(members.map((h) => h.arch));
  if (arches.size > 1) {
    out.error = {
      code: 'CPU_INCOMPATIBLE',
      message: `hosts of different architectures: ${[...arches].join(', ')}`,
    };
    return out;
  }
  try {
    out.baseline = baselineX86(
      members.map((h) => h.offeredCpu as CpuDef),
      { migratable: true },
    );
  } catch (err) {
    if (!(err instanceof VirError)) throw err;
    out.error = { code: err.code, message: err.message };
  }
  let best: { name: string; size: number } | undefined;
  for (const g of modelGuests()) {
    const size = g.needed.size;
    if (best && size < best.size) continue;
    if (members.every((h) => checkStart(g, h).ok)) best = { name: g.name, size };
  }
  out.bestModel = best?.name;
  return out;
}
