/**
 * What a start takes of the host's devices before QEMU runs, in the order
 * libvirt's process preparation takes them (`qemuProcessPrepareHost`):
 *
 * - the vsock: `/dev/vhost-vsock` opened, its descriptor handed to QEMU
 *   (`vhostfd`) with the guest CID, the one given or, with `auto='yes'`, the
 *   lowest from 3 that no guest of this process has or is starting with
 *   (reserved here until the guest stops). libvirt claims the CID on the
 *   descriptor itself (an ioctl Node cannot make); QEMU claims it on the
 *   same descriptor as it realizes the device, and refuses the start when
 *   another guest has it, which `guest-runners.ts` answers for an automatic
 *   CID by starting again with the next one, as the hotplug does.
 * - managed PCI host devices (`managed='yes'`): bound to vfio-pci through
 *   sysfs with the node-device detach's checks (the hotplug's binding), and
 *   given back when the start fails or the guest stops.
 * - SCSI LUNs on a host adapter: their generic device (`/dev/sgN`) found
 *   in sysfs and opened once, so a host without it is refused naming the
 *   host device; QEMU is given its path, as libvirt 9.0 gives it.
 *
 * - USB host devices named by vendor and product: found in sysfs (one
 *   device must match, as libvirt requires), their bus and device written
 *   into the live definition and given to QEMU as `/dev/bus/usb/BBB/DDD`.
 *
 * A host device another running guest has is refused first. Whatever was
 * taken before a refusal is given back before the error is thrown.
 *
 * @module
 */
import { closeSync, constants, openSync } from 'node:fs';
import type { HostdevDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import { hostScsiLun } from '../command-line/hostdev-scsi.js';
import type { CommandLinePaths } from '../command-line/types.js';
import { detachPci } from '../nodedev/detach.js';
import {
  detachSources,
  findUsb,
  type HostdevRoots,
  pciDevice,
  pciName,
  reattachHostdev,
  refuseHostdevInUse,
  scsiGeneric,
} from './hotplug-hostdev.js';
import { VHOST_VSOCK } from './hotplug-vsock.js';

/** CIDs 0-2 are the hypervisor's, reserved and the host's. */
const FIRST_CID = 3;
/** The highest CID a guest can have (32 bits, the top one `VMADDR_CID_ANY`). */
const LAST_CID = 0xfffffffe;

/** CIDs of the guests this process is starting or runs, until each stops. */
const reservedCids = new Set<number>();

/**
 * The sysfs work of starts and stops, one after the other: a guest started
 * again right after its stop must not have its device bound while the stop
 * still gives it back.
 */
let hostWork: Promise<void> = Promise.resolve();
function serially<T>(work: () => Promise<T>): Promise<T> {
  const run = hostWork.then(work, work);
  hostWork = run.then(
    () => {},
    () => {},
  );
  return run;
}

/** Resolves once the host device work begun so far is done (a destroy waits for its give-back). */
export function hostDevicesSettled(): Promise<void> {
  return hostWork;
}

/** The host side of a start, for the command line and for giving it back. */
export interface StartHostDevices {
  /** Descriptors QEMU inherits, the first as its descriptor 3 (`RunnerCommand.passFds`). */
  readonly passFds: readonly number[];
  /** What the command-line builder asks the host for. */
  readonly paths: Pick<CommandLinePaths, 'vhostVsock' | 'scsiHostDevice'>;
  /** The CID the vsock got, if the guest has one. */
  readonly cid: number | undefined;
  /** Closes this process's descriptors: once QEMU runs (it has its own), or when it did not start. */
  closeFds(): void;
  /** Gives back what the start took: managed PCI devices to their host drivers, the CID reservation. */
  release(): Promise<void>;
  /**
   * Drops the CID reservation alone, when the guest stopped: its managed
   * devices are then given back from its live definition, which also has
   * those plugged since ({@link releaseLiveHostDevices}).
   */
  releaseCid(): void;
}

/** What a start needs to know of the host and of the other guests. */
export interface HostDeviceContext {
  readonly roots?: HostdevRoots | undefined;
  /** The other running guests of this driver, by name. */
  readonly lives: ReadonlyArray<{ name: string; live: DomainDef }>;
  /** CIDs to pass over for an automatic CID: the others' and those QEMU found taken. */
  readonly takenCids: ReadonlySet<number>;
}

const field = (i: number) => `/domain/devices/hostdev[${i + 1}]`;

/** The lowest CID from 3 none of `taken` and no start of this process has. */
function freeCid(taken: ReadonlySet<number>): number {
  let cid = FIRST_CID;
  while (taken.has(cid) || reservedCids.has(cid)) cid++;
  if (cid > LAST_CID)
    throw new VirError('OPERATION_FAILED', 'qemu', 'no free guest CID for the vsock', {
      field: '/domain/devices/vsock/cid',
    });
  return cid;
}

/** Opens `path` read-write for QEMU, or refuses naming the device. */
function openVhostVsock(path: string): number {
  try {
    return openSync(path, constants.O_RDWR);
  } catch (err) {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `unable to open vhost-vsock device ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { field: '/domain/devices/vsock', cause: err },
    );
  }
}

/** Checks QEMU will be able to open a SCSI generic device as the host device asks (read-only or not). */
function checkScsiNode(path: string, lun: ReturnType<typeof hostScsiLun> & object, at: string): void {
  try {
    closeSync(openSync(path, (lun.readonly ? constants.O_RDONLY : constants.O_RDWR) | constants.O_NONBLOCK));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new VirError(
      'OPERATION_FAILED',
      'qemu',
      `cannot open ${path}, the SCSI generic device of host SCSI device ${lunKey(lun)}: ${why}`,
      { field: `${at}/source/adapter`, cause: err },
    );
  }
}

/**
 * Takes the host side of `live`'s vsock and host devices, writing the CID
 * it got into the live vsock (`<cid auto='yes' address='N'/>`, as libvirt's
 * live XML has it). Refuses, with everything taken so far given back.
 */
export function takeHostDevices(live: DomainDef, ctx: HostDeviceContext): Promise<StartHostDevices> {
  return serially(() => take(live, ctx));
}

async function take(live: DomainDef, ctx: HostDeviceContext): Promise<StartHostDevices> {
  const roots = ctx.roots ?? {};
  const sysRoot = roots.sysRoot ?? '/sys';
  const fds: number[] = [];
  const bound: HostdevDef[] = [];
  let cid: number | undefined;
  let reserved = false;
  const closeFds = () => {
    for (const fd of fds.splice(0)) closeSync(fd);
  };
  const releaseCid = () => {
    if (reserved && cid !== undefined) reservedCids.delete(cid);
    reserved = false;
  };
  const giveBack = async () => {
    closeFds();
    releaseCid();
    // each handed back even when another could not be
    for (const h of bound.splice(0)) await reattachHostdev(h, roots).catch(() => {});
  };
  const sgPaths = new Map<string, string>();
  try {
    const hostdevs = live.devices?.hostdevs ?? [];
    // a USB device named by vendor and product: its bus and device, looked up first (into the live
    // definition, as libvirt's), so the check of who uses it compares addresses
    for (const [i, h] of hostdevs.entries()) if (h.type === 'usb') await findUsb(h, sysRoot, field(i));
    for (const [i, h] of hostdevs.entries()) refuseHostdevInUse(ctx.lives, h, field(i));
    const v = live.devices?.vsock;
    if (v) {
      const auto = v.cid?.auto === true;
      cid = auto ? freeCid(ctx.takenCids) : v.cid?.address;
      if (!auto && cid !== undefined && (ctx.takenCids.has(cid) || reservedCids.has(cid)))
        throw new VirError('OPERATION_FAILED', 'qemu', `guest CID ${cid} is in use by another guest`, {
          field: '/domain/devices/vsock/cid/@address',
        });
      fds.push(openVhostVsock(roots.vhostVsock ?? VHOST_VSOCK));
      if (cid !== undefined && !reservedCids.has(cid)) {
        reservedCids.add(cid);
        reserved = true;
      }
      if (auto && cid !== undefined) v.cid = { ...(v.cid ?? {}), address: cid };
    }
    for (const [i, h] of hostdevs.entries()) {
      const name = pciName(h);
      if (h.managed !== true || name === undefined) continue;
      await detachPci(await pciDevice(name, sysRoot, field(i)), 'vfio-pci', detachSources(sysRoot));
      bound.push(h);
    }
    for (const [i, h] of hostdevs.entries()) {
      const lun = hostScsiLun(h);
      if (!lun) continue;
      const path = scsiGeneric(sysRoot, field(i))(lun);
      checkScsiNode(path, lun, field(i));
      sgPaths.set(lunKey(lun), path);
    }
  } catch (err) {
    await giveBack();
    throw err;
  }
  const vsockFd = fds.length > 0 ? 3 : undefined;
  return {
    passFds: [...fds],
    cid,
    paths: {
      ...(vsockFd !== undefined && cid !== undefined ? { vhostVsock: () => ({ fd: vsockFd, cid }) } : {}),
      scsiHostDevice: (lun) => {
        const path = sgPaths.get(lunKey(lun));
        if (path === undefined)
          throw new VirError('INTERNAL_ERROR', 'qemu', `host SCSI device ${lunKey(lun)} was not looked up`);
        return path;
      },
    },
    closeFds,
    release: () => serially(giveBack),
    releaseCid,
  };
}

const lunKey = (l: { adapter: string; bus: number; target: number; unit: number }) =>
  `${l.adapter}:${l.bus}:${l.target}:${l.unit}`;

/**
 * Gives back what a guest re-attached after a restart took at its start,
 * from its live definition (the status file's): its managed PCI devices.
 * Its CID was never reserved by this process; it is free once QEMU is gone.
 */
export function releaseLiveHostDevices(live: DomainDef | undefined, roots?: HostdevRoots): Promise<void> {
  const managed = (live?.devices?.hostdevs ?? []).filter((h) => h.managed === true && pciName(h));
  if (managed.length === 0) return Promise.resolve();
  return serially(async () => {
    for (const h of managed) await reattachHostdev(h, roots ?? {}).catch(() => {});
  });
}

/** The CIDs of the guests this process is starting, for a hotplug's automatic CID. */
export function startingCids(): ReadonlySet<number> {
  return reservedCids;
}

/** Whether a failed start is QEMU finding the vsock's CID taken (by a guest of another manager). */
export function vsockCidTaken(err: unknown): boolean {
  return err instanceof VirError && /address already in use|EADDRINUSE/i.test(err.message);
}
