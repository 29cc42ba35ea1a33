/**
 * A running guest's definition as another run of it starts from, like
 * libvirt's migratable XML: what a migration's destination boots, what a
 * save image and a memory snapshot carry, and the `<domain>` a snapshot
 * keeps. Only what this run chose for itself is taken back: a websocket
 * port picked here (the source still holds it) and the socket paths made up
 * for virtio channels in this run's directory, with their ports' states.
 * libvirt takes back only the paths named after a channel's target; an
 * unnamed channel's (`vioser-CC-BB-PP.sock`) would name a directory gone
 * with this run, so it is taken back too.
 *
 * @module
 */
import { CpuDef } from '../../../conf/cpu.js';
import type { DomainDef } from '../../../conf/domain/index.js';
import { VirError } from '../../../errors.js';
import { parseXml } from '../../../xml/parse.js';
import { serializeXml } from '../../../xml/serialize.js';
import { element } from '../../../xml/tree.js';
import { forgetChannelSockets } from './channel-sockets.js';
import { cloneDef, type Entry } from './domain-entry.js';
import { automaticPortsAgain } from './graphics-ports.js';

/** A copy of `e`'s live definition in migratable form; undefined when it is not running. */
export function migratableLive(e: Entry): DomainDef | undefined {
  if (!e.live) return undefined;
  const def = cloneDef(e.live);
  automaticPortsAgain(def, e.ports);
  const runDir = e.runner?.migration.core.paths.runDir;
  if (runDir !== undefined) forgetChannelSockets(def, runDir);
  return def;
}

/**
 * What another run of `e` starts from, the way libvirt hands it over: the
 * migratable live definition with the CPU the definition asked for (its
 * `origCPU`), and apart from it the CPU the guest runs with, when QEMU's
 * read-back changed it (what libvirt's save cookie carries). The other run
 * starts on that CPU and keeps the asked-for one as its own `origCPU`, so
 * its migratable XML is this one's.
 */
export function carriedLive(e: Entry): CarriedLive | undefined {
  const def = migratableLive(e);
  if (!def) return undefined;
  if (e.origCpu === undefined || !def.cpu) return { def };
  const updatedCpu = def.cpu;
  def.cpu = CpuDef.fromXML(e.origCpu);
  return { def, updatedCpu };
}

/** {@link carriedLive}'s answer. */
export interface CarriedLive {
  /** The definition, with the asked-for CPU. */
  readonly def: DomainDef;
  /** The CPU the guest runs with, when it is not the asked-for one. */
  readonly updatedCpu?: CpuDef;
}

/** The cookie (`<cookie><cpu>`) a save image keeps `updatedCpu` in. */
export function cpuCookie(updatedCpu: CpuDef): string {
  return serializeXml(element('cookie', [], [updatedCpu.toElement()]));
}

/** The CPU of a save image's cookie; undefined without one. A cookie that is not ours is `INVALID_ARG`. */
export function cookieCpu(cookie: string | undefined, field: string): CpuDef | undefined {
  if (cookie === undefined) return undefined;
  try {
    const root = parseXml(cookie);
    const cpu = root.children.find((c) => c.type === 'element' && c.name === 'cpu');
    if (root.name !== 'cookie') throw new Error(`root element <${root.name}>`);
    return cpu?.type === 'element' ? CpuDef.fromElement(cpu) : undefined;
  } catch (err) {
    throw new VirError(
      'INVALID_ARG',
      'qemu',
      `the save image's cookie is not valid: ${(err as Error).message}`,
      {
        field,
        cause: err,
      },
    );
  }
}
