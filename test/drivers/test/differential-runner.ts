/**
 * Runs the differential script against virtkit, and against libvirt's test
 * driver through `libvirt-runner.py`, producing the same JSON shape from both.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import type { DomainEvent } from '../../../src/driver.js';
import { VirError } from '../../../src/errors.js';
import type { Step } from './differential-steps.js';

export interface DomainFacts {
  name: string;
  id: number;
  state: string;
  reason: string;
  persistent: boolean;
  autostart: boolean;
  managedSave: boolean;
  maxMem: number;
  memory: number;
  nrVirtCpu: number;
}

export interface StepResult {
  ok: boolean;
  code?: string;
  value?: unknown;
  events: string[];
  domains: DomainFacts[];
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * True when `/usr/bin/python3 -c 'import libvirt'` works. Setting
 * `VIRTKIT_NO_PYTHON_LIBVIRT=1` pretends it does not, to exercise the
 * recorded answers.
 */
export function hasPythonLibvirt(): boolean {
  if (process.env.VIRTKIT_NO_PYTHON_LIBVIRT === '1') return false;
  return spawnSync('/usr/bin/python3', ['-c', 'import libvirt'], { stdio: 'ignore' }).status === 0;
}

/** `saveDir`: where the save and restore steps' files are. */
export function runLibvirt(steps: readonly Step[], saveDir = '.'): StepResult[] {
  const r = spawnSync('/usr/bin/python3', [join(here, 'libvirt-runner.py')], {
    input: JSON.stringify(steps),
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, VIRTKIT_SAVE_DIR: saveDir },
  });
  if (r.status !== 0) throw new Error(`libvirt runner failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as StepResult[];
}

export async function runVirtkit(steps: readonly Step[], saveDir = '.'): Promise<StepResult[]> {
  const conn = await connect('test:///default');
  const events: string[] = [];
  const ac = new AbortController();
  const stream = conn.events({ signal: ac.signal });
  const pump = (async () => {
    for await (const e of stream) events.push(eventLine(e));
  })();
  const handles = new Map<string, Domain>();
  const handle = async (name: string): Promise<Domain> => {
    let d = handles.get(name);
    if (!d) {
      d = await conn.lookupDomain({ name });
      handles.set(name, d);
    }
    return d;
  };

  const run = async (step: Step): Promise<unknown> => {
    switch (step.op) {
      case 'define':
      case 'create': {
        const d =
          step.op === 'define' ? await conn.defineDomain(step.xml) : await conn.createDomain(step.xml);
        handles.set(d.name, d);
        return d.name;
      }
      case 'lookup': {
        const d = await conn.lookupDomain({ name: step.name });
        handles.set(d.name, d);
        return d.name;
      }
      case 'lookupId':
        return (await conn.lookupDomain(step.id)).name;
      case 'restore': {
        const d = await conn.restoreDomain(resolve(saveDir, step.file), step.paused ? { paused: true } : {});
        handles.set(d.name, d);
        return undefined;
      }
      case 'list': {
        const filter =
          step.filter === 'active' || step.filter === 'inactive'
            ? { active: step.filter === 'active' }
            : step.filter === 'persistent' || step.filter === 'transient'
              ? { persistent: step.filter === 'persistent' }
              : step.filter === 'autostart'
                ? { autostart: true }
                : { state: 'paused' as const };
        return (await conn.listDomains(filter)).map((d) => d.name).sort();
      }
      default:
        break;
    }
    const d = await handle(step.dom);
    switch (step.op) {
      case 'start':
        return void (await d.start());
      case 'suspend':
        return void (await d.suspend());
      case 'resume':
        return void (await d.resume());
      case 'shutdown':
        return void (await d.shutdown());
      case 'reboot':
        return void (await d.reboot());
      case 'reset':
        return void (await d.reset());
      case 'destroy':
        return void (await d.destroy());
      case 'undefine':
        return void (await d.undefine(step.snapshots ? { snapshots: true } : {}));
      case 'snapCreate':
        return d.createSnapshot(step.xml, flagOptions(step.flags, CREATE_FLAGS));
      case 'snapRevert':
        return void (await d.revertToSnapshot(step.name, flagOptions(step.flags, REVERT_FLAGS)));
      case 'snapDelete':
        return void (await d.deleteSnapshot(step.name, {
          ...(step.children ? { children: true } : {}),
          ...(step.childrenOnly ? { childrenOnly: true } : {}),
          ...(step.metadataOnly ? { metadataOnly: true } : {}),
        }));
      case 'snapList':
        return (await d.listSnapshots())
          .map((x) => ({ name: x.name, parent: x.parent ?? null, current: x.current }))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      case 'managedSave':
        return void (await d.managedSave());
      case 'hasManagedSave':
        return d.hasManagedSave();
      case 'managedSaveRemove':
        return void (await d.managedSaveRemove());
      case 'save':
        return void (await d.save(resolve(saveDir, step.file)));
      case 'setMaxMemory':
        return void (await d.setMaxMemory(step.kib, {
          ...(step.config ? { config: true } : {}),
          ...(step.live ? { live: true } : {}),
        }));
      case 'xml':
        return d.getXML(step.inactive ? { inactive: true } : {});
      case 'state': {
        const s = await d.getState();
        return [s.state, s.reason];
      }
      case 'setMemory':
        return void (await d.setMemory(step.kib, step.config ? { config: true } : {}));
      case 'setVcpus':
        return void (await d.setVcpus(step.count, step.config ? { config: true } : {}));
      case 'setAutostart':
        return void (await d.setAutostart(step.value));
      case 'rename':
        await d.rename(step.to);
        handles.set(step.to, d);
        return undefined;
    }
  };

  const results: StepResult[] = [];
  for (const step of steps) {
    let result: Omit<StepResult, 'events' | 'domains'>;
    try {
      const value = await run(step);
      result = { ok: true, value: value ?? null };
    } catch (err) {
      if (!(err instanceof VirError)) throw err;
      result = { ok: false, code: err.code };
    }
    await new Promise((r) => setImmediate(r));
    results.push({ ...result, events: events.splice(0), domains: await facts() });
  }
  ac.abort();
  await pump;
  await conn.close();
  return results;

  async function facts(): Promise<DomainFacts[]> {
    const out: DomainFacts[] = [];
    for (const d of await conn.listDomains()) {
      const s = await d.getState();
      const info = await d.getInfo();
      out.push({
        name: d.name,
        id: d.id,
        state: s.state,
        reason: s.reason,
        persistent: await d.isPersistent(),
        autostart: await d.getAutostart(),
        managedSave: await d.hasManagedSave(),
        maxMem: info.maxMem,
        memory: info.memory,
        nrVirtCpu: info.nrVirtCpu,
      });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

function eventLine(e: DomainEvent): string {
  return `${e.domain.name}:${e.domain.id}:${e.event}/${e.detail}`;
}

/** libvirt's `virDomainSnapshotCreateFlags`, bit by bit, as our option names. */
const CREATE_FLAGS = [
  'redefine',
  'current',
  'noMetadata',
  'halt',
  'diskOnly',
  'reuseExt',
  'quiesce',
  'atomic',
  'live',
  'validate',
] as const;
/** libvirt's `virDomainSnapshotRevertFlags`, bit by bit. */
const REVERT_FLAGS = ['running', 'paused', 'force', 'resetNvram'] as const;

function flagOptions<K extends string>(
  flags: number | undefined,
  names: readonly K[],
): Partial<Record<K, true>> {
  const out: Partial<Record<K, true>> = {};
  names.forEach((n, bit) => {
    if (((flags ?? 0) >> bit) & 1) out[n] = true;
  });
  return out;
}
