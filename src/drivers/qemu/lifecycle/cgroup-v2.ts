/**
 * What a host offers only through cgroup v2, which the driver does not use
 * yet (`cgroup.ts` places guests in v1 hierarchies; a v2 guest needs its
 * own layout, threaded sub-groups for the vCPUs, `cpu.max` / `io.max`
 * instead of the v1 files): the controllers a `cgroup2` mount's root lists
 * in `cgroup.controllers`, so a v2-only host is refused by name rather than
 * answered as one without controllers. A hybrid host (this driver's v1
 * hierarchies beside an empty unified one) has none.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VirError } from '../../../errors.js';
import type { CgroupController } from './cgroup.js';

/** The v2 names of the v1 controllers the driver uses. */
const V2_NAME: Record<CgroupController, string> = { cpu: 'cpu', memory: 'memory', blkio: 'io' };

/** Each v2 controller the host's `cgroup2` mounts offer, with the mount; from a mount table (`/proc/self/mounts`). */
export function cgroupV2Controllers(mountTable: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of mountTable.split('\n')) {
    const [, where, type] = line.split(' ');
    if (type !== 'cgroup2' || where === undefined) continue;
    const mount = where.replace(/\\040/g, ' ');
    let listed: string;
    try {
      listed = readFileSync(join(mount, 'cgroup.controllers'), 'utf8');
    } catch {
      continue;
    }
    for (const c of listed.split(/\s+/)) if (c && !out.has(c)) out.set(c, mount);
  }
  return out;
}

let cached: Map<string, string> | undefined;

function hostV2(): Map<string, string> {
  if (cached) return cached;
  try {
    cached = cgroupV2Controllers(readFileSync('/proc/self/mounts', 'utf8'));
  } catch {
    cached = new Map();
  }
  return cached;
}

/**
 * The refusal for a controller the host has only under cgroup v2
 * (OPERATION_UNSUPPORTED, naming it and the mount); undefined when v2 does
 * not offer it either (then the caller's "not mounted" is the truth).
 */
export function cgroupV2Refusal(
  controller: CgroupController,
  v2: Map<string, string> = hostV2(),
): VirError | undefined {
  const mount = v2.get(V2_NAME[controller]);
  if (mount === undefined) return undefined;
  return new VirError(
    'OPERATION_UNSUPPORTED',
    'qemu',
    `the host's ${controller} controller is on cgroup v2 only (${mount}, '${V2_NAME[controller]}'); virtkit's QEMU driver places guests in cgroup v1 hierarchies and does not use cgroup v2 yet`,
  );
}
