/**
 * One domain of the QEMU driver as its table holds it: the persistent and
 * live definitions and the runner of a guest that runs, with the small
 * questions asked of it (active? which state? which reference?).
 *
 * @module
 */
import { DomainDef } from '../../../conf/domain/index.js';
import type { CallOptions, DomainInfo, DomainRef, DomainState, GetXmlOptions } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { serializeXml } from '../../../xml/index.js';
import type { GuestHelpers, QemuDomainRunner } from '../lifecycle/index.js';
import { readProcStat } from '../lifecycle/proc-info.js';
import type { DomainStatus } from '../lifecycle/status-file.js';
import { addChardevAliases } from './chardev-aliases.js';
import type { ConsoleSessions } from './consoles.js';
import { stampMemoryAliases } from './device-alias.js';
import type { DiskNodeRange } from './disk-nodes.js';
import { type PortLease, restoreLivePorts, showListenAddresses } from './graphics-ports.js';
import { addDeviceAliases } from './live-aliases.js';

export interface Entry {
  name: string;
  uuid: string;
  /** The persistent (next boot) definition; undefined for a transient domain. */
  config: DomainDef | undefined;
  /** The definition the running guest was started from. */
  live: DomainDef | undefined;
  runner: QemuDomainRunner | undefined;
  unsubscribe: (() => void) | undefined;
  /** The helper processes (swtpm, ...) started with the running guest. */
  helpers?: GuestHelpers | undefined;
  /** What its start took of the host's devices (`host-devices-start.ts`): the CID it reserved. */
  hostDevices?: { releaseCid(): void } | undefined;
  /** Display ports the running guest holds. */
  ports?: PortLease | undefined;
  /** Console sessions open on the running guest. */
  consoles?: ConsoleSessions | undefined;
  /** The running guest's block node numbers by disk (`disk-nodes.ts`), made at the first need. */
  diskNodes?: DiskNodeRange[] | undefined;
  /** A variable clock's adjustment at start, once an RTC change needed it (`rtc-offset.ts`). */
  rtcAdjustment0?: number | undefined;
  /**
   * When QEMU's read-back at start changed the guest CPU from the definition's: the definition's
   * `<cpu>` before it (libvirt's `origCPU`), as XML.
   */
  origCpu?: string | undefined;
  /**
   * A guest another live process manages (see `owner-lock.ts`): what its
   * status file said when last read. Such a domain is shown as running with
   * that state and refused every change.
   */
  foreign?: { readonly owner: { readonly pid: number }; readonly status: DomainStatus } | undefined;
}

export type WriteFlags = CallOptions & { config?: boolean; live?: boolean };

export function isActive(e: Entry): boolean {
  return e.foreign !== undefined || e.runner?.isActive === true;
}

export function stateOf(e: Entry): DomainState {
  if (e.foreign) return { state: e.foreign.status.state, reason: e.foreign.status.reason };
  return e.runner?.getState() ?? { state: 'shutoff', reason: 'unknown' };
}

/**
 * OPERATION_INVALID with `message` when the guest runs (or starts); a run that just ended is
 * released first (a new start would meet its taps, ports and helpers), as libvirt's start waits
 * for the stop job.
 */
export async function refuseActive(e: Entry, message: string): Promise<void> {
  await e.runner?.settled();
  if (isActive(e) || e.runner?.pid !== undefined) throw new VirError('OPERATION_INVALID', 'qemu', message);
}

export function refOf(e: Entry): DomainRef {
  if (e.foreign) return { name: e.name, uuid: e.uuid, id: e.foreign.status.id };
  return { name: e.name, uuid: e.uuid, id: isActive(e) && e.runner ? e.runner.ref.id : -1 };
}

/** Refuses `what` on a guest another process manages, naming that process. */
export function refuseForeign(e: Entry, what: string): void {
  if (!e.foreign) return;
  throw new VirError(
    'OPERATION_INVALID',
    'qemu',
    `cannot ${what} domain '${e.name}': it is running under another process (pid ${e.foreign.owner.pid}), which manages it`,
  );
}

export function cloneDef(def: DomainDef): DomainDef {
  return DomainDef.fromXML(def.toXML());
}

export function signalOpt(opts: CallOptions): { signal?: AbortSignal } {
  return opts.signal ? { signal: opts.signal } : {};
}

/** What `virDomainGetInfo` says: the runner's view while running, else the definition's. */
export function entryInfo(e: Entry): DomainInfo {
  if (e.foreign) {
    const { status } = e.foreign;
    return {
      state: status.state,
      maxMem: status.guest.memoryKiB,
      memory: status.balloonKiB,
      nrVirtCpu: status.guest.vcpus,
      cpuTime: readProcStat(status.pid)?.cpuTimeNs ?? 0n,
    };
  }
  if (e.runner && isActive(e)) return e.runner.getInfo();
  const def = e.config ?? e.live;
  const maxMem = def?.memory?.value ?? 0;
  return {
    state: stateOf(e).state,
    maxMem,
    memory: def?.currentMemory?.value ?? maxMem,
    nrVirtCpu: def?.vcpu?.current ?? def?.vcpu?.count ?? 1,
    cpuTime: 0n,
  };
}

/**
 * The live definition while running (with its id and balloon size), else the persistent one;
 * its secrets (display passwords, disk cookies) only with `secure`, as libvirt's.
 */
export function entryXml(e: Entry, opts: GetXmlOptions): string {
  if (e.foreign && !(opts.inactive && e.config)) {
    // What the owner recorded at start: the live definition with its pty paths and ports.
    const live = DomainDef.fromXML(e.foreign.status.guest.domainXml);
    live.id = e.foreign.status.id;
    showListenAddresses(live);
    const el = live.toElement({ hideSecrets: !opts.secure });
    addChardevAliases(el, live);
    addDeviceAliases(el, live);
    return serializeXml(el);
  }
  if (e.runner && e.live && isActive(e) && !(opts.inactive && e.config)) {
    const live = cloneDef(e.live);
    live.id = e.runner.ref.id;
    restoreLivePorts(live, e.live);
    showListenAddresses(live);
    live.currentMemory = { unit: 'KiB', value: e.runner.getInfo().memory };
    // Device aliases exist only while the guest runs, as in libvirt's live XML
    // (a memory device's names it to updateDevice: see hotplug-memory.ts).
    stampMemoryAliases(live);
    const el = live.toElement({ hideSecrets: !opts.secure });
    addChardevAliases(el, live);
    addDeviceAliases(el, live);
    return serializeXml(el);
  }
  const def = e.config ?? e.live;
  if (!def) throw new VirError('INTERNAL_ERROR', 'qemu', `domain '${e.name}' has no definition`);
  return def.toXML({ inactive: true, hideSecrets: !opts.secure });
}

/** The state checks of suspend, resume and shutdown, run inside the runner's job (see `StateCheck`). */
export function refusePmsuspended(s: DomainState): void {
  if (s.state === 'pmsuspended') throw new VirError('OPERATION_INVALID', 'qemu', 'domain is pmsuspended');
}

export function refuseResume(s: DomainState): void {
  refusePmsuspended(s);
  if (s.state === 'running') throw new VirError('OPERATION_INVALID', 'qemu', 'domain is already running');
}

export function refuseNotRunning(s: DomainState): void {
  if (s.state !== 'running') throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
}
