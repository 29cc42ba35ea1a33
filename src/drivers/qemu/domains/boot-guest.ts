/**
 * Booting one guest of the domain table: the live copy of its definition,
 * what must exist on the host before QEMU (the NVRAM file, display ports,
 * helper processes such as swtpm), the command line, the runner's start,
 * what is read back from QEMU before the guest runs (pty paths, the CPU it
 * got, where its memory devices went) into the live definition; and the reactions tying the helpers'
 * lives to QEMU's.
 *
 * @module
 */
import { join } from 'node:path';
import { CpuDef } from '../../../conf/cpu.js';
import type { DomainDef } from '../../../conf/domain/index.js';
import type { DomainDiskChangeEvent } from '../../../domain-events.js';
import type { StartCallOptions } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { assignUsbPorts } from '../command-line/usb-addresses.js';
import { dropDiskChainIndexes } from '../defaults/runtime-state.js';
import {
  appendDomainLog,
  forgetGuestHelpers,
  type GuestHelpers,
  type MigrationCapabilities,
  nameHelperTaps,
  prepareNvram,
  QemuDomainRunner,
  type RunnerOptions,
  type RunnerRoots,
  runnerPaths,
  setMigrationCapabilities,
  startGuestHelpers,
  startIncoming,
} from '../lifecycle/index.js';
import type { QmpClient } from '../qmp/index.js';
import { applyChannelStates, placeChannelSockets } from './channel-sockets.js';
import { applyPtyPaths, type QmpChardevInfo } from './chardev-aliases.js';
import { commitLive } from './commit-defs.js';
import { completeDiskChains, numberDiskChains } from './disk-chain.js';
import { startNodeRanges } from './disk-nodes.js';
import { cloneDef, type Entry, signalOpt } from './domain-entry.js';
import { allocateGraphicsPorts, releasePorts } from './graphics-ports.js';
import {
  releaseLiveHostDevices,
  type StartHostDevices,
  takeHostDevices,
  vsockCidTaken,
} from './host-devices-start.js';
import { refuseHostSideSettings } from './host-side-settings.js';
import { verifyLiveCpu } from './live-cpu.js';
import { readBackMemoryDevices } from './memory-device-info.js';
import type { QemuDomainsOptions } from './qemu-domains-options.js';
import { clockToUtcBasis } from './rtc-offset.js';
import { runFactsOf } from './run-facts.js';
import { runnerGuestFromDef } from './runner-guest-from-def.js';
import { applyStartupPolicies } from './startup-policy.js';
import { cgroupsConsumed, placeStartingGuest, releaseGuestCgroups } from './tuning-start.js';

/** How long a guest whose helper ended may take to end on its own (QEMU shutting down closes its helpers). */
const HELPER_EXIT_GRACE_MS = 500;

/** A boot that waits for its state: a live migration's, or a save image's (`restore`). */
export interface Incoming {
  readonly capabilities: MigrationCapabilities;
  readonly restore?: boolean;
  /**
   * The CPU the source ran with when QEMU had changed it from the one the
   * definition asks for (a save image's cookie; see `carriedLive`): this run
   * starts on it and keeps the definition's as its `origCpu`, as libvirt's.
   */
  readonly updatedCpu?: CpuDef;
}

/** What a boot takes beyond `start()`'s options: a revert to a snapshot boots for `from snapshot`. */
export type BootCallOptions = StartCallOptions & { readonly fromSnapshot?: boolean };

export interface BootHost {
  readonly options: QemuDomainsOptions;
  runnerOptions(): RunnerOptions;
  adoptRunner(e: Entry, runner: QemuDomainRunner): void;
  /** Sends a domain event of the boot (a disk dropped by its startup policy). */
  forward?(ev: DomainDiskChangeEvent): void;
  /** The other running guests of the driver (their host devices and CIDs are taken). */
  otherGuests?(): Array<{ name: string; live: DomainDef }>;
}

/** How many CIDs an automatic CID tries past those this driver knows are taken (as the hotplug). */
const CID_TRIES = 64;

/**
 * Boots `def` for entry `e`. With `incoming` QEMU waits for a live migration
 * instead (`-incoming defer`, then `migrate-incoming` on a unix socket in the
 * run directory, whose URI is returned): the guest stays paused until
 * `finishIncoming`.
 */
export async function bootGuest(
  host: BootHost,
  e: Entry,
  def: DomainDef,
  opts: BootCallOptions,
  incoming?: Incoming,
): Promise<string | undefined> {
  // an automatic CID QEMU found taken (by a guest of another manager): the start again with the next
  const skip = new Set<number>();
  for (let tries = 0; ; tries++) {
    const tried: { cid?: number } = {};
    try {
      return await bootOnce(host, e, def, opts, incoming, skip, tried);
    } catch (err) {
      const auto = def.devices?.vsock?.cid?.auto === true;
      if (!auto || tried.cid === undefined || !vsockCidTaken(err) || tries >= CID_TRIES) throw err;
      skip.add(tried.cid);
    }
  }
}

async function bootOnce(
  host: BootHost,
  e: Entry,
  def: DomainDef,
  opts: BootCallOptions,
  incoming: Incoming | undefined,
  skipCids: ReadonlySet<number>,
  tried: { cid?: number },
): Promise<string | undefined> {
  const live = cloneDef(def);
  // a carried-over run starts on the CPU its source ran and keeps the asked-for one
  // (when they differ, as libvirt's qemuDomainUpdateCPU)
  const updatedCpu = incoming?.updatedCpu?.toXML();
  const definedCpu = updatedCpu !== undefined ? live.cpu?.toXML() : undefined;
  const askedCpu = definedCpu !== updatedCpu ? definedCpu : undefined;
  if (askedCpu !== undefined && updatedCpu !== undefined) live.cpu = CpuDef.fromXML(updatedCpu);
  refuseHostSideSettings(live, cgroupsConsumed(host.options.cgroups));
  clockToUtcBasis(live);
  // a fresh boot, or one that carries state over (a restore, an incoming migration, a revert)
  const dropped = applyStartupPolicies(live, {
    coldBoot: !incoming && !opts.fromSnapshot,
    domain: { name: e.name, uuid: e.uuid, id: -1 },
  });
  // each disk's backing chain below what the definition names, from the image headers, numbered
  // after the definition's layers (numbers a migrated or restored definition carries are redone)
  dropDiskChainIndexes(live);
  const found = await completeDiskChains(live, await host.options.volumes?.(live), opts.signal);
  // the start's block node numbers, kept with the run so a re-attach names the nodes as this start did
  const diskNodes = [...startNodeRanges(live), ...found];
  let guest = { ...runnerGuestFromDef(live), driverData: runFactsOf({ diskNodes }) };
  const roots = { stateRoot: host.options.stateRoot, logRoot: host.options.logRoot };
  // The id first: the run directory (and the monitor socket in it) is named after it, as libvirt's.
  const id = host.runnerOptions().allocateId?.();
  for (const ev of dropped) host.forward?.({ ...ev, domain: { ...ev.domain, id: id ?? -1 } });
  const paths = runnerPaths(roots, guest, id);
  // channel sockets without a path live in the run directory; the live XML shows where
  placeChannelSockets(live, paths.runDir);
  // a definition stored before USB ports were written into it gets them now, as its command line
  assignUsbPorts(live);
  prepareNvram(live);
  const lease = await allocateGraphicsPorts(live);
  let helpers: GuestHelpers | undefined;
  let netPorts: { release(): void } | undefined;
  let hostDevices: StartHostDevices | undefined;
  try {
    const others = host.otherGuests?.() ?? [];
    const takenCids = new Set(skipCids);
    for (const o of others) {
      const cid = o.live.devices?.vsock?.cid?.address;
      if (cid !== undefined) takenCids.add(cid);
    }
    hostDevices = await takeHostDevices(live, {
      roots: host.options.hostdevRoots,
      lives: others,
      takenCids,
    });
    if (hostDevices.cid !== undefined) {
      tried.cid = hostDevices.cid;
      // the status file's first write has the CID too: a re-attach must know it is taken
      guest = { ...guest, domainXml: live.toXML() };
    }
    // network interfaces first: their ports name the bridge the taps join
    netPorts = await host.options.networks?.plugGuest(live);
    helpers = withNetworkPorts(
      await startGuestHelpers(live, roots, host.options.helperBinaries, opts.signal),
      netPorts,
    );
    const command = await host.options.commandLine(live, paths, opts.signal, helpers.sockets, {
      ...(incoming ? { incoming: 'defer' } : {}),
      hostDevices: hostDevices.paths,
    });
    numberDiskChains(live, diskNodes);
    const uri = incoming ? `unix:${join(paths.runDir, 'migration.sock')}` : undefined;
    let runner = e.runner;
    if (runner) runner.setGuest(guest);
    else {
      runner = new QemuDomainRunner(guest, host.runnerOptions());
      host.adoptRunner(e, runner);
    }
    e.live = live;
    // what the last run's events learnt (block node numbers, the RTC's start) is this run's again
    e.diskNodes = diskNodes;
    e.rtcAdjustment0 = undefined;
    e.origCpu = undefined;
    e.helpers = helpers;
    e.ports = lease;
    e.hostDevices = hostDevices;
    watchHelpers(helpers, runner, paths.logFile);
    const passFds = hostDevices.passFds;
    await runner.start({
      command: passFds.length > 0 ? { ...command, passFds } : command,
      ...(id !== undefined ? { id } : {}),
      ...signalOpt(opts),
      ...(opts.paused ? { paused: true } : {}),
      ...(opts.fromSnapshot ? { fromSnapshot: true } : {}),
      ...(incoming ? { incoming: true, ...(incoming.restore ? { restore: true } : {}) } : {}),
      ...(opts.timeout !== undefined ? { startTimeoutMs: opts.timeout } : {}),
      prepare: async (qmp, signal) => {
        const pid = runner?.pid;
        if (host.options.cgroups && pid !== undefined && runner)
          await placeStartingGuest(live, e.uuid, runner.ref.id, pid, qmp, signal);
        // QEMU made these taps with qemu-bridge-helper; the live definition names them, as libvirt's
        const helperNics = Object.keys(helpers?.sockets.bridgeHelpers ?? {}).map(Number);
        if (pid !== undefined) nameHelperTaps(live.devices?.interfaces ?? [], helperNics, pid);
        const xml = await readBackLive(
          live,
          qmp,
          signal,
          incoming !== undefined || opts.fromSnapshot === true,
          (original) => {
            e.origCpu = askedCpu ?? original;
          },
        );
        if (incoming && uri) {
          await setMigrationCapabilities(qmp, incoming.capabilities, signal);
          await startIncoming(qmp, uri, signal);
        }
        return xml;
      },
    });
    // the status file keeps that QEMU changed the CPU (the start's first write predates the read-back)
    if (e.origCpu !== undefined) commitLive(e, live);
    // QEMU holds its own copies (the vsock's CID stays claimed on them while it runs)
    hostDevices.closeFds();
    return uri;
  } catch (err) {
    e.live = undefined;
    e.ports = undefined;
    if (e.hostDevices === hostDevices) e.hostDevices = undefined;
    releasePorts(lease);
    if (helpers && e.helpers === helpers) e.helpers = undefined;
    await helpers?.stop();
    if (!helpers) netPorts?.release();
    // after QEMU is gone: the managed PCI devices back to their host drivers
    await hostDevices?.release();
    throw err;
  }
}

/** The guest's helpers, whose stop also gives back the guest's network ports. */
function withNetworkPorts(h: GuestHelpers, ports: { release(): void } | undefined): GuestHelpers {
  if (!ports) return h;
  return {
    sockets: h.sockets,
    running: h.running,
    onUnexpectedExit: (l) => h.onUnexpectedExit(l),
    stop: async () => {
      ports.release();
      await h.stop();
    },
  };
}

/**
 * What QEMU decided while it waits at `-S`, into the live definition; returns its XML for the status file.
 * `carriesState`: the guest's state comes after (a migration, a restore, a revert).
 */
async function readBackLive(
  live: DomainDef,
  qmp: QmpClient,
  signal: AbortSignal,
  carriesState: boolean,
  cpuUpdated: (original: string | undefined) => void,
): Promise<string> {
  const chardevs = await qmp.execute<QmpChardevInfo[]>('query-chardev', undefined, { signal });
  const list = Array.isArray(chardevs) ? chardevs : [];
  applyPtyPaths(live, list);
  applyChannelStates(live, list);
  // the definition's CPU, as libvirt keeps it (its origCPU) when QEMU's differs
  const original = live.cpu?.toXML();
  cpuUpdated((await verifyLiveCpu(live, qmp, signal)) ? original : undefined);
  await readBackMemoryDevices(live, qmp, signal, carriesState);
  return live.toXML();
}

/**
 * Gives back what a guest whose QEMU is gone held on the host, in libvirt's
 * order, before its `stopped` is told: the helper processes (and with them
 * the taps and network ports of the start and of hot-plugs), the CID, the
 * managed PCI devices, the cgroups. A guest re-attached after this process
 * restarted has no helper handles; its helpers end with QEMU by themselves
 * (swtpm --terminate, passt --one-off, virtiofsd when QEMU hangs up),
 * leaving their runtime directory, the taps made for its bridge interfaces
 * and its ports (named from the live definition) to remove. Every step
 * runs; the ones that failed are thrown together afterwards.
 */
export async function releaseGuest(
  e: Entry,
  roots: RunnerRoots & Pick<QemuDomainsOptions, 'networks' | 'hostdevRoots'>,
): Promise<void> {
  const failed: string[] = [];
  const step = async (what: string, work: () => Promise<void> | void) => {
    try {
      await work();
    } catch (err) {
      failed.push(`${what}: ${(err as Error).message}`);
    }
  };
  const helpers = e.helpers;
  e.helpers = undefined;
  const hostDevices = e.hostDevices;
  e.hostDevices = undefined;
  if (helpers) await step('helpers', () => helpers.stop());
  else {
    await step('helpers', () => forgetGuestHelpers(roots, e.uuid, e.live));
    await step('network ports', () => releaseLivePorts(roots.networks, e.live));
  }
  // the CID reserved; the managed PCI devices of the live definition (those plugged since too)
  hostDevices?.releaseCid();
  await step('host devices', () => releaseLiveHostDevices(e.live, roots.hostdevRoots));
  await step('cgroups', () => releaseGuestCgroups(e.uuid));
  if (failed.length > 0) throw new VirError('OPERATION_FAILED', 'qemu', failed.join('; '));
}

/** Gives back the network port of each `<interface type='network'>` of `live` (a stopped network took them already). */
async function releaseLivePorts(
  networks: QemuDomainsOptions['networks'],
  live: DomainDef | undefined,
): Promise<void> {
  if (!networks?.lookupNetwork || !networks.portDelete) return;
  for (const nic of live?.devices?.interfaces ?? []) {
    const name = nic.source?.network;
    const uuid = nic.source?.portid;
    if (nic.type !== 'network' || name === undefined || uuid === undefined) continue;
    try {
      await networks.portDelete({ network: await networks.lookupNetwork({ name }), uuid });
    } catch {
      // the network is gone or stopped, and its ports with it
    }
  }
}

/**
 * A helper that ends while its guest runs leaves the guest without a device
 * it was started with (a TPM that no longer answers), so the guest is
 * stopped too: QEMU is killed and the runner reports it stopped as `failed`,
 * with the helper's end in the domain log. A guest already on its way out
 * (whose exit closed the helper) is left to end by itself.
 */
function watchHelpers(helpers: GuestHelpers, runner: QemuDomainRunner, logFile: string): void {
  helpers.onUnexpectedExit((exit) => {
    const pid = runner.pid;
    setTimeout(() => {
      if (pid === undefined || runner.pid !== pid) return;
      const how = exit.signal ? `signal ${exit.signal}` : `status ${exit.code ?? '?'}`;
      appendDomainLog(logFile, `helper ${exit.name} exited with ${how}; stopping the guest`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, HELPER_EXIT_GRACE_MS).unref();
  });
}
