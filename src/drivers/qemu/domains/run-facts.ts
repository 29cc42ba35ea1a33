/**
 * What the driver learns of a running guest beyond its live XML, kept in
 * the status file (the runner's opaque `driverData`) so that a process that
 * re-attaches the guest knows it too, as libvirt keeps such facts in its
 * `<domstatus>`:
 *
 * - the block node numbers of each disk (`libvirt-N-*`): the start's, and
 *   those each hot-plug or media change chose. Counted again from the live
 *   XML after a restart they would be wrong as soon as a disk was plugged,
 *   and events naming a node would name another disk;
 * - the adjustment a variable clock started with (libvirt's `adjustment0`):
 *   QEMU's RTC_CHANGE offsets count from it, while the live XML's
 *   `adjustment` has moved with the guest's changes;
 * - the guest CPU the definition asked for, when QEMU's read-back at start
 *   changed it (libvirt's `origCPU`): the live XML then shows QEMU's.
 *
 * @module
 */
import { CpuDef } from '../../../conf/cpu.js';
import type { DiskNodeRange } from './disk-nodes.js';

/** The facts, as the status file keeps them. */
export interface RunFacts {
  readonly diskNodes?: readonly DiskNodeRange[];
  readonly rtcAdjustment0?: number;
  /**
   * When QEMU changed the guest CPU at start: the definition's `<cpu>` it started from (libvirt's
   * `origCPU`), as XML. The migratable XML shows it; a memory snapshot's cookie has the live one.
   */
  readonly origCpu?: string;
}

/** The facts of `e` to write with its live XML. */
export function runFacts(e: {
  diskNodes?: DiskNodeRange[] | undefined;
  rtcAdjustment0?: number | undefined;
  origCpu?: string | undefined;
}): RunFacts {
  return {
    ...runFactsOf(e),
    ...(e.origCpu !== undefined ? { origCpu: e.origCpu } : {}),
  };
}

/** The facts from their parts (those not known yet left out). */
export function runFactsOf(parts: {
  diskNodes?: readonly DiskNodeRange[] | undefined;
  rtcAdjustment0?: number | undefined;
}): RunFacts {
  return {
    ...(parts.diskNodes ? { diskNodes: parts.diskNodes.map((r) => ({ ...r })) } : {}),
    ...(parts.rtcAdjustment0 !== undefined ? { rtcAdjustment0: parts.rtcAdjustment0 } : {}),
  };
}

/** Puts the facts a status file kept back on the entry; what is missing or malformed stays unknown. */
export function restoreRunFacts(
  e: {
    diskNodes?: DiskNodeRange[] | undefined;
    rtcAdjustment0?: number | undefined;
    origCpu?: string | undefined;
  },
  data: unknown,
): void {
  if (!data || typeof data !== 'object') return;
  const d = data as {
    diskNodes?: unknown;
    rtcAdjustment0?: unknown;
    origCpu?: unknown;
  };
  if (typeof d.origCpu === 'string' && isCpuXml(d.origCpu)) e.origCpu = d.origCpu;
  if (Array.isArray(d.diskNodes) && d.diskNodes.every(isRange))
    e.diskNodes = d.diskNodes.map((r) => ({ ...r }));
  if (typeof d.rtcAdjustment0 === 'number' && Number.isFinite(d.rtcAdjustment0))
    e.rtcAdjustment0 = d.rtcAdjustment0;
}

function isCpuXml(xml: string): boolean {
  try {
    CpuDef.fromXML(xml);
    return true;
  } catch {
    return false;
  }
}

function isRange(r: unknown): r is DiskNodeRange {
  const x = r as DiskNodeRange;
  return (
    typeof x === 'object' &&
    x !== null &&
    Number.isSafeInteger(x.first) &&
    Number.isSafeInteger(x.count) &&
    typeof x.target === 'string'
  );
}
