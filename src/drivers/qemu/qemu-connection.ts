/**
 * A `qemu:///system` or `qemu:///session` connection, in-process (no daemon): capabilities
 * from probed binaries, and the guests (`domains/`).
 *
 * Probed capabilities live in a {@link QemuCapsCache} shared by every
 * connection using the same cache directory, so a second connection (or a
 * second call) costs a `stat()` of each binary, not a probe.
 *
 * @module
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Capabilities, CapsHost } from '../../conf/capabilities.js';
import type {
  BaselineOptions,
  CallOptions,
  ConsoleStream,
  CpuCompareResult,
  DomainCapabilitiesQuery,
  DomainEventListener,
  DomainInfo,
  DomainLookup,
  DomainRef,
  DomainState,
  DriverConnection,
  GetXmlOptions,
  ListDomainsFilter,
  MigrateOptions,
  NodeInfo,
  OpenConsoleOptions,
  QemuMonitorEvent,
  ScreenshotOptions,
  StartCallOptions,
} from '../../driver.js';
import type { PowerOptions } from '../../driver-agent.js';
import type { NetworkDhcpLease } from '../../driver-objects.js';
import { throwIfAborted, VirError } from '../../errors.js';
import type { QemuMonitorRequest } from '../../qemu-monitor.js';
import { buildCapabilities } from './caps/capabilities-builder.js';
import {
  qemuBaselineCpu,
  qemuBaselineHypervisorCpu,
  qemuCompareCpu,
  qemuCompareHypervisorCpu,
} from './caps/cpu-calls.js';
import { buildDomainCapabilities, type DomainCapsHostFacts } from './caps/domain-caps-builder.js';
import { domainCapsHostFacts, findEmulators } from './caps/host-facts.js';
import { hostArch, readHostInfo } from './caps/host-info.js';
import { nodeInfoOf } from './caps/node-info.js';
import { hostModelCpu } from './command-line/cpu.js';
import { hostFirmwareDescriptors } from './defaults/firmware-files.js';
import { DEFAULT_LEGACY_FIRMWARE } from './defaults/firmware-select.js';
import { accelOf, applyQemuDefaults } from './defaults/index.js';
import { commandLineFor } from './domain-command-line.js';
import * as devStats from './domains/device-stats.js';
import type { Entry } from './domains/domain-entry.js';
import * as stats from './domains/guest-stats.js';
import { type DeviceCall, type HotplugSide, hotplug } from './domains/hotplug.js';
import type { HostdevRoots } from './domains/hotplug-hostdev.js';
import type { DomainListAccess } from './domains/index.js';
import { domainXmlToNative, migrateDomain, QemuDomains, type QemuDomainsOptions } from './domains/index.js';
import { type MonitorOpts, monitorCommand, screenshot } from './domains/monitor-calls.js';
import type { HelperBinaries } from './lifecycle/index.js';
import { migrationHosts } from './migration-hosts.js';
import { QemuNetworks } from './network/index.js';
import { QemuNodeDevices } from './nodedev/index.js';
import type { QemuPaths } from './paths.js';
import { QemuCapsCache } from './probe/caps-cache.js';
import type { QemuCaps } from './probe/qemu-caps.js';
import { QemuDomainCalls } from './qemu-domain-calls.js';
import { guestUsingVolume, QemuStorage, sessionPoolRoots } from './storage/index.js';

export interface QemuConnectionOptions {
  paths: QemuPaths;
  /** Binaries to offer; default every `qemu-system-*` found on PATH and the usual places. */
  emulators?: readonly string[];
  /** `false` never probes or offers KVM. Default: when /dev/kvm is usable. */
  kvm?: boolean;
  /** Helper binaries (swtpm, swtpm_setup); default: found on PATH. */
  helperBinaries?: HelperBinaries;
  /** Where device hotplug finds the host's devices: `/sys` and `/dev/vhost-vsock` unless given. */
  hostdevRoots?: HostdevRoots;
  /** The driver option `storagePoolRoots`: more directories a session pool may use. */
  storagePoolRoots?: readonly string[];
  /** The driver options of the same names, in milliseconds (see options.ts). */
  timeouts?: { qmpTimeout?: number; startTimeout?: number; shutdownTimeout?: number };
}

const caches = new Map<string, QemuCapsCache>();

function sharedCache(paths: QemuPaths, kvm: boolean | undefined): QemuCapsCache {
  const key = `${paths.cacheDir ?? '(memory)'}\0${paths.runDir}\0${kvm ?? 'auto'}`;
  let c = caches.get(key);
  if (!c) {
    const opts: ConstructorParameters<typeof QemuCapsCache>[0] = {
      dir: paths.cacheDir,
      probe: { runDir: paths.runDir },
    };
    if (kvm === false) opts.kvm = async () => false;
    c = new QemuCapsCache(opts);
    caches.set(key, c);
  }
  return c;
}

function domainTimeouts(
  t: QemuConnectionOptions['timeouts'],
): Pick<QemuDomainsOptions, 'startTimeoutMs' | 'commandTimeoutMs' | 'killTimeoutMs'> {
  return {
    ...(t?.startTimeout !== undefined ? { startTimeoutMs: t.startTimeout } : {}),
    ...(t?.qmpTimeout !== undefined ? { commandTimeoutMs: t.qmpTimeout } : {}),
    ...(t?.shutdownTimeout !== undefined ? { killTimeoutMs: t.shutdownTimeout } : {}),
  };
}

export class QemuConnection extends QemuDomainCalls implements DriverConnection {
  readonly type = 'QEMU';
  readonly paths: QemuPaths;
  readonly #options: QemuConnectionOptions;
  readonly #cache: QemuCapsCache;
  #emulators: Promise<readonly string[]> | undefined;
  #host: Promise<CapsHost> | undefined;
  #hostFacts: Promise<DomainCapsHostFacts> | undefined;
  #capsMemo: { key: readonly QemuCaps[]; value: Capabilities } | undefined;
  readonly #domCapsMemo = new Map<string, { caps: QemuCaps; xml: string }>();
  #closed = false;
  readonly #domains: QemuDomains;
  readonly #domainOptions: QemuDomainsOptions;
  readonly #hostdevRoots: HostdevRoots | undefined;
  /** `dir` storage pools on these roots (storage/). */
  readonly storage: QemuStorage;
  /** The host's devices from sysfs (nodedev/). */
  readonly nodeDevices: QemuNodeDevices;
  /** Virtual networks on these roots (network/). */
  readonly networks: QemuNetworks;

  constructor(options: QemuConnectionOptions) {
    super();
    this.#options = options;
    this.paths = options.paths;
    this.#cache = sharedCache(options.paths, options.kvm);
    // the running guests, to judge the network ports a reopen reads back (called after the domains load)
    this.networks = QemuNetworks.open(
      options.paths.configDir,
      options.paths.runDir,
      async () => new Set((await this.listDomains({ active: true })).map((d) => d.uuid)),
    );
    this.storage = QemuStorage.open(
      options.paths.configDir,
      options.paths.runDir,
      (...v) => guestUsingVolume(this, ...v),
      options.paths.mode === 'session' ? sessionPoolRoots(options.paths, options.storagePoolRoots) : null,
    );
    this.nodeDevices = new QemuNodeDevices({ privileged: options.paths.mode === 'system' });
    this.#hostdevRoots = options.hostdevRoots;
    this.#domainOptions = {
      configRoot: options.paths.configDir,
      stateRoot: options.paths.stateDir,
      logRoot: options.paths.logDir,
      defaultEmulator: async (arch) =>
        (await this.#emulatorList()).find((e) => e.endsWith(`/qemu-system-${arch}`)),
      applyDefaults: async (def, signal, live) => {
        const emulator = def.devices?.emulator ?? '';
        const caps = (await this.#cache.get(emulator, signal ? { signal } : {})).caps;
        applyQemuDefaults(def, caps, {
          libDir: options.paths.stateDir,
          // run directories, where a start puts channel sockets that have no path (dropped from definitions)
          channelDir: join(options.paths.stateDir, 'qemu'),
          usbPorts: true,
          // read per definition: installing a firmware package needs no reconnect
          firmware: {
            descriptors: await hostFirmwareDescriptors(options.paths.mode),
            nvramDir: join(options.paths.stateDir, 'nvram'),
            // a definition given to define/create is new: libvirt lets it take the newest builds
            abiUpdate: true,
            legacy: DEFAULT_LEGACY_FIRMWARE,
          },
          ...(live ? { live: true } : {}),
        });
      },
      hostCpu: async (def, signal) =>
        hostModelCpu(
          (await this.#cache.get(def.devices?.emulator ?? '', signal ? { signal } : {})).caps,
          accelOf(def),
        ),
      commandLine: commandLineFor(this.#cache, this.storage),
      volumes: (def) => this.storage.resolverFor(def),
      networks: this.networks,
      cgroups: options.paths.mode === 'system' && process.getuid?.() === 0,
      ...(options.helperBinaries ? { helperBinaries: options.helperBinaries } : {}),
      ...(options.hostdevRoots ? { hostdevRoots: options.hostdevRoots } : {}),
      ...domainTimeouts(options.timeouts),
      defaultMachine: async (emulator, arch, signal) =>
        (await this.getCapabilities(signal ? { signal } : {}))
          .findGuests({ arch })
          .find((g) => g.arch.emulator === emulator)?.arch.machines?.[0]?.name,
    };
    this.#domains = QemuDomains.acquire(this.#domainOptions);
  }

  /** The command line a start of `xml` would run (`virsh domxml-to-native qemu-argv`), nothing started. */
  async domainXMLToNative(format: string, xml: string, opts: CallOptions = {}): Promise<string> {
    this.#checkOpen();
    return domainXmlToNative(format, xml, this.#domainOptions, opts.signal);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.storage.close();
    this.networks.close();
    await this.#domains.release();
  }

  /** The caps cache behind this connection (tests, benchmarks). */
  get capsCache(): QemuCapsCache {
    return this.#cache;
  }

  async getCapabilities(opts: CallOptions = {}): Promise<Capabilities> {
    this.#checkOpen();
    const all = await this.#allCaps(opts.signal);
    this.#host ??= readHostInfo();
    const host = await this.#host;
    const memo = this.#capsMemo;
    if (memo && memo.key.length === all.length && memo.key.every((c, i) => c === all[i])) return memo.value;
    const value = buildCapabilities(host, all);
    this.#capsMemo = { key: all, value };
    return value;
  }

  async getDomainCapabilities(query: DomainCapabilitiesQuery = {}): Promise<string> {
    this.#checkOpen();
    const virttypeIn = query.virttype;
    if (virttypeIn !== undefined && virttypeIn !== 'kvm' && virttypeIn !== 'qemu') {
      const msg = `unknown virttype '${virttypeIn}' (expected 'kvm' or 'qemu')`;
      throw new VirError('INVALID_ARG', 'qemu', msg, { field: 'virttype' });
    }
    const caps = await this.#capsFor(query);
    const virttype = virttypeIn ?? (caps.accel.kvm ? 'kvm' : 'qemu');
    const key = `${caps.emulator}\0${query.arch ?? ''}\0${query.machine ?? ''}\0${virttype}`;
    const memo = this.#domCapsMemo.get(key);
    if (memo && memo.caps === caps) return memo.xml;
    this.#host ??= readHostInfo();
    this.#hostFacts ??= domainCapsHostFacts(this.paths.mode, this.#host);
    const facts = await this.#hostFacts;
    const request: { virttype: 'kvm' | 'qemu'; machine?: string; arch?: string } = { virttype };
    if (query.machine !== undefined) request.machine = query.machine;
    if (query.arch !== undefined) request.arch = query.arch;
    const xml = buildDomainCapabilities(caps, request, facts).toXML();
    this.#domCapsMemo.set(key, { caps, xml });
    return xml;
  }

  // CPU calls: see caps/cpu-calls.ts.
  async compareCpu(cpuXml: string, opts: CallOptions = {}): Promise<CpuCompareResult> {
    // The capabilities' host CPU, which depends on no QEMU binary: no probe to check.
    this.#checkOpen();
    throwIfAborted(opts.signal, 'qemu');
    this.#host ??= readHostInfo();
    return qemuCompareCpu((await this.#host).cpu, cpuXml);
  }
  async baselineCpu(cpuXmls: readonly string[], opts: BaselineOptions = {}): Promise<string> {
    this.#checkOpen();
    throwIfAborted(opts.signal, 'qemu');
    return qemuBaselineCpu(cpuXmls, opts);
  }
  async compareHypervisorCpu(cpuXml: string, query: DomainCapabilitiesQuery): Promise<CpuCompareResult> {
    const { caps, accel } = await this.#hypervisor(query);
    return qemuCompareHypervisorCpu(caps, accel, cpuXml);
  }
  async baselineHypervisorCpu(
    cpuXmls: readonly string[],
    query: DomainCapabilitiesQuery & BaselineOptions,
  ): Promise<string> {
    const { caps, accel } = await this.#hypervisor(query);
    return qemuBaselineHypervisorCpu(caps, accel, cpuXmls, query);
  }

  /** The binary and accelerator a hypervisor CPU call is about, chosen as for domain capabilities. */
  async #hypervisor(query: DomainCapabilitiesQuery): Promise<{ caps: QemuCaps; accel: 'kvm' | 'tcg' }> {
    this.#checkOpen();
    const v = query.virttype;
    if (v !== undefined && v !== 'kvm' && v !== 'qemu') {
      throw new VirError('INVALID_ARG', 'qemu', `unknown virttype '${v}' (expected 'kvm' or 'qemu')`, {
        field: 'virttype',
      });
    }
    const caps = await this.#capsFor(query);
    return { caps, accel: (v ?? (caps.accel.kvm ? 'kvm' : 'qemu')) === 'kvm' ? 'kvm' : 'tcg' };
  }

  async getVersion(opts: CallOptions = {}): Promise<number> {
    this.#checkOpen();
    const caps = await this.#capsFor(opts.signal ? { signal: opts.signal } : {});
    return caps.versionNumber;
  }

  async getNodeInfo(opts: CallOptions = {}): Promise<NodeInfo> {
    this.#checkOpen();
    throwIfAborted(opts.signal, 'qemu');
    this.#host ??= readHostInfo();
    return nodeInfoOf(await this.#host);
  }

  async getHostname(): Promise<string> {
    return hostname();
  }

  // Domains: see domains/qemu-domains.ts.
  listDomains(filter: ListDomainsFilter, opts: CallOptions = {}): Promise<DomainRef[]> {
    return this.#domains.list(filter, opts);
  }
  lookupDomain(key: DomainLookup, opts: CallOptions = {}): Promise<DomainRef> {
    return this.#domains.lookup(key, opts);
  }
  defineDomain(xml: string, opts?: CallOptions): Promise<DomainRef> {
    return this.#domains.define(xml, opts);
  }
  createDomain(xml: string, opts?: StartCallOptions): Promise<DomainRef> {
    return this.#domains.create(xml, opts);
  }
  domainStart(dom: DomainRef, opts?: StartCallOptions): Promise<DomainRef> {
    return this.#domains.start(dom, opts);
  }
  domainSuspend(dom: DomainRef, opts?: CallOptions): Promise<void> {
    return this.#domains.suspend(dom, opts);
  }
  domainResume(dom: DomainRef, opts?: CallOptions): Promise<void> {
    return this.#domains.resume(dom, opts);
  }
  domainShutdown(dom: DomainRef, opts?: PowerOptions): Promise<void> {
    return opts?.mode === 'agent'
      ? this.agentPower(dom, opts, 'powerdown')
      : this.#domains.shutdown(dom, opts);
  }
  domainReboot(dom: DomainRef, opts?: PowerOptions): Promise<void> {
    return opts?.mode === 'agent' ? this.agentPower(dom, opts, 'reboot') : this.#domains.reboot(dom, opts);
  }
  protected networkLeases(network: string, mac: string): Promise<NetworkDhcpLease[]> {
    return this.networks.leasesOf(network, mac);
  }
  protected agentEntry(dom: DomainRef, opts: CallOptions, what: string): Promise<Entry> {
    return this.#domains.listAccess().owned(dom, opts, what);
  }
  domainReset(dom: DomainRef, opts?: CallOptions): Promise<void> {
    return this.#domains.reset(dom, opts);
  }
  domainOpenConsole(
    dom: DomainRef,
    name: string | undefined,
    opts?: OpenConsoleOptions,
  ): Promise<ConsoleStream> {
    return this.#domains.openConsole(dom, name, opts);
  }
  domainDestroy(dom: DomainRef, opts?: CallOptions): Promise<void> {
    return this.#domains.destroy(dom, opts);
  }
  domainUndefine(dom: DomainRef, opts?: CallOptions & { snapshots?: boolean }): Promise<void> {
    return this.#domains.undefine(dom, opts);
  }
  domainGetState(dom: DomainRef, opts?: CallOptions): Promise<DomainState> {
    return this.#domains.getState(dom, opts);
  }
  domainGetInfo(dom: DomainRef, opts?: CallOptions): Promise<DomainInfo> {
    return this.#domains.getInfo(dom, opts);
  }
  domainGetXml(dom: DomainRef, opts?: GetXmlOptions): Promise<string> {
    return this.#domains.getXml(dom, opts);
  }
  domainSetMemory(dom: DomainRef, kib: number, opts?: CallOptions & { config?: boolean; live?: boolean }) {
    return this.#domains.setMemory(dom, kib, opts);
  }
  /** The domain list's handles for the device calls, with the networks and bridge helper an interface's host end needs. */
  #hotplugSide(): HotplugSide {
    const bridgeHelper = this.#domainOptions.helperBinaries?.bridgeHelper;
    const hostNet = { networks: this.networks, ...(bridgeHelper !== undefined ? { bridgeHelper } : {}) };
    const roots = this.#hostdevRoots;
    return {
      ...this.#domains.listAccess(),
      hostNet,
      volumes: (def) => this.storage.resolverFor(def),
      ...(roots ? { hostdevRoots: roots } : {}),
    };
  }
  domainAttachDevice: DeviceCall = (d, x, o) => hotplug.attach(this.#hotplugSide(), d, x, o);
  domainDetachDevice: DeviceCall = (d, x, o) => hotplug.detach(this.#hotplugSide(), d, x, o);
  domainUpdateDevice: DeviceCall = (d, x, o) => hotplug.update(this.#hotplugSide(), d, x, o);
  domainGetAutostart(dom: DomainRef, opts?: CallOptions): Promise<boolean> {
    return this.#domains.getAutostart(dom, opts);
  }
  domainSetAutostart(dom: DomainRef, autostart: boolean, opts?: CallOptions): Promise<void> {
    return this.#domains.setAutostart(dom, autostart, opts);
  }
  domainIsPersistent(dom: DomainRef, opts?: CallOptions): Promise<boolean> {
    return this.#domains.isPersistent(dom, opts);
  }

  /** Live migration to another qemu connection of this process (other state roots); see `domains/migration.ts`. */
  domainMigrate(dom: DomainRef, dest: DriverConnection, opts: MigrateOptions = {}): Promise<DomainRef> {
    this.#checkOpen();
    if (!(dest instanceof QemuConnection))
      throw new VirError('NO_SUPPORT', 'qemu', `cannot migrate from qemu to a ${dest.type} connection`);
    const [src, dst] = [this.#domains.listAccess(), dest.#domains.listAccess()];
    return migrateDomain(src, dst, dom, opts, migrationHosts(this, dest, opts));
  }

  // Statistics: see domains/guest-stats.ts.
  domainListGetStats(doms: stats.StatsDoms, q: stats.DomainStatsQuery, opts: CallOptions = {}) {
    return stats.qemuDomainsStats(this.#domains.listAccess(), doms, q, opts);
  }
  domainGetBlockInfo(dom: DomainRef, disk: string, opts: CallOptions = {}) {
    return devStats.onEntry(this.#domains.listAccess(), dom, opts, (e) => devStats.qemuBlockInfo(e, disk));
  }
  domainBlockStats(dom: DomainRef, disk: string, opts: CallOptions = {}) {
    return devStats.onEntry(this.#domains.listAccess(), dom, opts, (e) =>
      devStats.qemuBlockStats(e, disk, opts.signal),
    );
  }
  domainInterfaceStats(dom: DomainRef, device: string, opts: CallOptions = {}) {
    return devStats.onEntry(this.#domains.listAccess(), dom, opts, (e) =>
      devStats.qemuInterfaceStats(e, device),
    );
  }
  domainMemoryStats(dom: DomainRef, opts: CallOptions = {}) {
    return devStats.onEntry(this.#domains.listAccess(), dom, opts, (e) =>
      devStats.qemuMemoryStats(e, opts.signal),
    );
  }

  subscribe(listener: DomainEventListener): () => void {
    return this.#domains.subscribe(listener);
  }
  protected domainSide(): DomainListAccess {
    return this.#domains.listAccess();
  }
  subscribeQemuMonitor(listener: (event: QemuMonitorEvent) => void): () => void {
    return this.#domains.listAccess().table.subscribeMonitor(listener);
  }
  domainQemuMonitorCommand(dom: DomainRef, cmd: QemuMonitorRequest, opts?: MonitorOpts) {
    return monitorCommand(this.#domains.listAccess(), dom, cmd, opts);
  }
  domainScreenshot(dom: DomainRef, opts?: ScreenshotOptions) {
    return screenshot(this.#domains.listAccess(), dom, opts);
  }

  #checkOpen(): void {
    if (this.#closed) throw new VirError('INVALID_CONN', 'qemu', 'connection is closed');
  }

  #emulatorList(): Promise<readonly string[]> {
    this.#emulators ??= this.#options.emulators ? Promise.resolve(this.#options.emulators) : findEmulators();
    return this.#emulators;
  }

  /** Caps of every emulator; discovered binaries that fail to probe are left out, named ones fail the call. */
  async #allCaps(signal: AbortSignal | undefined): Promise<QemuCaps[]> {
    const binaries = await this.#emulatorList();
    const named = this.#options.emulators !== undefined;
    const results = await Promise.allSettled(
      binaries.map((b) => this.#cache.get(b, signal ? { signal } : {})),
    );
    const out: QemuCaps[] = [];
    let firstError: unknown;
    for (const r of results) {
      if (r.status === 'fulfilled') out.push(r.value.caps);
      else if (named || (r.reason as { code?: unknown })?.code === 'OPERATION_ABORTED') throw r.reason;
      else firstError ??= r.reason;
    }
    // One broken binary among several is skipped, as libvirt does; all of them failing is an error.
    if (out.length === 0 && firstError !== undefined) throw firstError;
    return out;
  }

  async #capsFor(query: DomainCapabilitiesQuery): Promise<QemuCaps> {
    const opts = query.signal ? { signal: query.signal } : {};
    if (query.emulator !== undefined) {
      if (!query.emulator.startsWith('/')) {
        throw new VirError(
          'INVALID_ARG',
          'qemu',
          `emulator must be an absolute path, got '${query.emulator}'`,
          {
            field: 'emulator',
          },
        );
      }
      return (await this.#cache.get(query.emulator, opts)).caps;
    }
    const arch = query.arch ?? hostArch();
    const all = await this.#allCaps(query.signal);
    const found = all.find((c) => c.arch === arch);
    if (!found) {
      throw new VirError('NO_SUPPORT', 'qemu', `no QEMU binary found for architecture '${arch}'`, {
        field: 'arch',
      });
    }
    return found;
  }
}
