/**
 * The same stats steps through virtkit and through python3-libvirt
 * (`stats-peer.py`), for the differential tests of the test and remote
 * drivers.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connection, DomainStatsGroup } from '../../src/index.js';
import { VirError } from '../../src/index.js';

export type StatsStep =
  | { op: 'all'; groups?: DomainStatsGroup[]; flags?: string[]; domains?: string[] }
  | { op: 'blockInfo' | 'blockStats'; domain: string; disk: string }
  | { op: 'interfaceStats'; domain: string; device: string }
  | { op: 'memoryStats' | 'destroy' | 'suspend' | 'start'; domain: string }
  | { op: 'setMemory'; domain: string; kib: number }
  | { op: 'define'; xml: string };

export interface StepOutcome {
  ok: boolean;
  value?: unknown;
  code?: string | number;
}

export const PYTHON = '/usr/bin/python3';
export const HAS_PYTHON_LIBVIRT =
  spawnSync(PYTHON, ['-c', 'import libvirt'], { stdio: 'ignore' }).status === 0;

/** libvirt's answers to the steps, through python3-libvirt on `uri`. */
export function libvirtSteps(uri: string, steps: readonly StatsStep[]): StepOutcome[] {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'stats-peer.py');
  const r = spawnSync(PYTHON, [script, uri, JSON.stringify(steps)], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`stats-peer.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as StepOutcome[];
}

function flagOpts(flags: readonly string[] = []) {
  const o: {
    active?: boolean;
    persistent?: boolean;
    enforce?: boolean;
    backing?: boolean;
    state?: ('running' | 'paused' | 'shutoff' | 'other')[];
  } = {};
  for (const f of flags) {
    if (f === 'active' || f === 'inactive') o.active = f === 'active';
    else if (f === 'persistent' || f === 'transient') o.persistent = f === 'persistent';
    else if (f === 'enforce' || f === 'backing') o[f] = true;
    else o.state = [...(o.state ?? []), f as 'running'];
  }
  return o;
}

async function runOne(conn: Connection, step: StatsStep): Promise<unknown> {
  if (step.op === 'all') {
    const doms = step.domains ? await Promise.all(step.domains.map((n) => conn.lookupDomain(n))) : undefined;
    const res = await conn.getAllDomainStats(doms, { groups: step.groups ?? [], ...flagOpts(step.flags) });
    return res.map((r) => [r.domain.name, r.params]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  }
  if (step.op === 'define') {
    await conn.defineDomain(step.xml);
    return null;
  }
  const dom = await conn.lookupDomain(step.domain);
  switch (step.op) {
    case 'blockInfo':
      return { ...(await dom.getBlockInfo(step.disk)) };
    case 'blockStats':
      return { ...(await dom.getBlockStats(step.disk)) };
    case 'interfaceStats':
      return { ...(await dom.getInterfaceStats(step.device)) };
    case 'memoryStats':
      return { ...(await dom.getMemoryStats()) };
    case 'destroy':
      await dom.destroy();
      return null;
    case 'suspend':
      await dom.suspend();
      return null;
    case 'start':
      await dom.start();
      return null;
    case 'setMemory':
      await dom.setMemory(step.kib);
      return null;
  }
}

/** virtkit's answers to the steps, in the same shape as {@link libvirtSteps}. */
export async function virtkitSteps(conn: Connection, steps: readonly StatsStep[]): Promise<StepOutcome[]> {
  const out: StepOutcome[] = [];
  for (const step of steps) {
    try {
      out.push({ ok: true, value: await runOne(conn, step) });
    } catch (err) {
      if (!(err instanceof VirError)) throw err;
      out.push({ ok: false, code: err.code });
    }
  }
  return out;
}
