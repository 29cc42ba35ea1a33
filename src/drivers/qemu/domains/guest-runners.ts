/**
 * The domain table's side of its runners: booting a guest as its owner
 * (see `owner-lock.ts`), taking up the runners an opening driver finds,
 * turning a runner's events into the table's (a stopped guest gives back
 * its ports, consoles, helpers and ownership), and the runner options
 * every runner of these roots gets (ids, timeouts).
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/index.js';
import { VirError } from '../../../errors.js';
import type { QemuDomainRunner, RunnerEvent, RunnerOptions } from '../lifecycle/index.js';
import { domainEventsOf } from '../lifecycle/qmp-domain-events.js';
import { type BootCallOptions, bootGuest, type Incoming, releaseGuest } from './boot-guest.js';
import { channelPortChanged } from './channel-sockets.js';
import { commitLive } from './commit-defs.js';
import { diskOfNode, nodeRanges } from './disk-nodes.js';
import type { Entry } from './domain-entry.js';
import type { DomainTable } from './domain-table.js';
import { agentPorts, monitorEventOf } from './event-guest.js';
import { releasePorts } from './graphics-ports.js';
import { loadDomains, noticeForeign, refreshForeign } from './load-domains.js';
import { memorySizeChanged } from './memory-size.js';
import { acquireOwner, ownerPath, releaseOwner } from './owner-lock.js';
import type { QemuDomainsOptions } from './qemu-domains-options.js';
import { applyRtcChange } from './rtc-offset.js';

/** Next domain id per state root, so ids keep increasing across re-opens, as a daemon's do. */
const nextIds = new Map<string, number>();

export class GuestRunners {
  constructor(
    readonly options: QemuDomainsOptions,
    readonly table: DomainTable,
  ) {}

  /** Fills the table from disk and re-attaches the guests left running. */
  async load(): Promise<void> {
    const maxId = await loadDomains(this.table, this.runnerOptions(), (e, r) => this.adopt(e, r));
    const key = this.options.stateRoot;
    nextIds.set(key, Math.max(nextIds.get(key) ?? 1, maxId + 1));
  }

  /** Looks again at a guest another process managed (it may be gone, or ours to take now). */
  refresh(e: Entry): Promise<void> {
    return refreshForeign(this.table, e, this.runnerOptions(), (entry, r) => this.adopt(entry, r));
  }

  /** Marks a guest another process started meanwhile as foreign (see `noticeForeign`). */
  notice(e: Entry): void {
    noticeForeign(e, this.runnerOptions());
  }

  /** Boots as the guest's owner: refused while another live process runs it; `incoming` see `bootGuest`. */
  async boot(
    e: Entry,
    def: DomainDef,
    opts: BootCallOptions,
    incoming?: Incoming,
  ): Promise<string | undefined> {
    const lock = ownerPath(this.options.stateRoot, e.name);
    const other = acquireOwner(lock);
    if (other) {
      throw new VirError(
        'OPERATION_INVALID',
        'qemu',
        `domain '${e.name}' is already running under another process (pid ${other.pid})`,
      );
    }
    try {
      return await bootGuest(
        {
          options: this.options,
          runnerOptions: () => this.runnerOptions(),
          adoptRunner: (entry, runner) => this.adopt(entry, runner),
          forward: (ev) => this.table.forward(ev),
          otherGuests: () => {
            const out: Array<{ name: string; live: DomainDef }> = [];
            for (const o of this.table.byUuid.values())
              if (o !== e && o.live) out.push({ name: o.name, live: o.live });
            return out;
          },
        },
        e,
        def,
        opts,
        incoming,
      );
    } catch (err) {
      if (e.runner?.pid === undefined) releaseOwner(lock);
      throw err;
    }
  }

  adopt(e: Entry, runner: QemuDomainRunner): void {
    e.unsubscribe?.();
    e.runner = runner;
    // numbered again from the live definition at the first event that names a node
    e.diskNodes = undefined;
    e.unsubscribe = runner.subscribe((ev) => this.#onRunnerEvent(e, ev));
    runner.setTeardown(() => this.#release(e));
  }

  /** What the guest held, given back before its runner tells `stopped` (see `releaseGuest`). */
  async #release(e: Entry): Promise<void> {
    e.consoles?.closeAll();
    releasePorts(e.ports);
    e.ports = undefined;
    await releaseGuest(e, this.options);
  }

  #onRunnerEvent(e: Entry, ev: RunnerEvent): void {
    if (ev.type === 'monitor') {
      this.table.forwardMonitor(monitorEventOf(ev));
      // the port's new state is in the live XML (and the status file) before the event is told
      const port = ev.event.event === 'VSERPORT_CHANGE' ? ev.event.data : undefined;
      if (port && channelPortChanged(e.live, String(port.id), port.open === true) && e.live)
        commitLive(e, e.live);
      const disk = (name: string) => (e.live ? diskOfNode(e.live, nodeRanges(e, e.live), name) : undefined);
      for (const d of domainEventsOf(ev.event, { domain: ev.domain, agentPorts: agentPorts(e), disk })) {
        // libvirt keeps a virtio-mem device's new size as its live <current> before it tells
        if (d.type === 'memory-device-size-change') memorySizeChanged(e, d.alias, d.size);
        if (d.type !== 'rtc-change') {
          this.table.forward(d);
          continue;
        }
        const rtc = applyRtcChange(e.live, e, d.utcoffset);
        if (rtc.changed && e.live) commitLive(e, e.live);
        this.table.forward({ ...d, utcoffset: rtc.utcoffset });
      }
      return;
    }
    if (ev.type === 'reboot' || ev.type === 'control-error') this.table.forward(ev);
    if (ev.type !== 'lifecycle') return;
    if (ev.event === 'stopped') {
      // what the guest held is given back by now (#release ran before the runner told it)
      releaseOwner(ownerPath(this.options.stateRoot, e.name));
      e.live = undefined;
      // libvirt reports a stopped domain with id -1; a transient one is gone with it.
      this.table.forward({ ...ev, domain: { ...ev.domain, id: -1 } });
      if (!e.config) this.table.drop(e);
      return;
    }
    this.table.forward(ev);
  }

  runnerOptions(): RunnerOptions {
    const o = this.options;
    const key = o.stateRoot;
    return {
      stateRoot: o.stateRoot,
      logRoot: o.logRoot,
      allocateId: () => {
        const id = nextIds.get(key) ?? 1;
        nextIds.set(key, id + 1);
        return id;
      },
      ...(o.startTimeoutMs !== undefined ? { startTimeoutMs: o.startTimeoutMs } : {}),
      ...(o.commandTimeoutMs !== undefined ? { commandTimeoutMs: o.commandTimeoutMs } : {}),
      ...(o.killTimeoutMs !== undefined ? { killTimeoutMs: o.killTimeoutMs } : {}),
    };
  }
}
