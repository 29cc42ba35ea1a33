/**
 * One running guest's agent, as libvirt's QEMU driver keeps it: the channel
 * of the definition (`<channel type='unix'>` with target
 * `org.qemu.guest_agent.0`), whether the guest has the port open, and the
 * connection to QEMU's end of it.
 *
 * QEMU listens on the socket whether or not an agent runs in the guest, so
 * connecting says nothing; what says it is the port's frontend state:
 * `query-chardev`'s `frontend-open` at first use, then QEMU's
 * `VSERPORT_CHANGE` events. A guest whose port is closed is refused at once
 * (`AGENT_UNRESPONSIVE`), never waited for; each open makes the next
 * command sync again.
 *
 * @module
 */
import type { ChardevDef } from '../../../conf/domain/devices/chardev.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { QemuDomainRunner, RunnerEvent } from '../lifecycle/index.js';
import { AgentClient, type AgentSendOptions } from './agent-client.js';

/** The virtio-serial port name qemu-guest-agent listens on. */
export const AGENT_CHANNEL_NAME = 'org.qemu.guest_agent.0';

/** Where the agent of a definition is: its device id, socket path and XML location. */
export interface AgentChannel {
  /** The port's device id (`channel0`), as `VSERPORT_CHANGE` names it. */
  readonly alias: string;
  /** The socket QEMU listens on. */
  readonly path: string;
  /** The channel's place in the definition, for errors. */
  readonly field: string;
}

/**
 * The agent channel of a live definition; `ARGUMENT_UNSUPPORTED` without one (libvirt's "not
 * configured"), `CONFIG_UNSUPPORTED` naming the field when it is not a socket virtkit can join.
 */
export function agentChannel(live: DomainDef, runDir: string): AgentChannel {
  const channels: readonly ChardevDef[] = live.devices?.channels ?? [];
  const i = channels.findIndex((c) => c.target?.type === 'virtio' && c.target.name === AGENT_CHANNEL_NAME);
  const c = channels[i];
  if (!c) throw new VirError('ARGUMENT_UNSUPPORTED', 'qemu', 'QEMU guest agent is not configured');
  const field = `/domain/devices/channel[${i + 1}]`;
  if (c.type !== 'unix')
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `the guest agent channel is a '${c.type}' device; virtkit talks to the agent over type='unix'`,
      { field: `${field}/@type` },
    );
  const src = c.sources?.[0];
  if (src?.mode === 'connect')
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      "the guest agent channel has QEMU connect out (mode='connect'); virtkit joins a socket QEMU listens on",
      { field: `${field}/source/@mode` },
    );
  // the command line's own choice for a channel without a path (command-line/chardevs.ts)
  return { alias: `channel${i}`, path: src?.path ?? `${runDir}/${AGENT_CHANNEL_NAME}`, field };
}

const sessions = new WeakMap<QemuDomainRunner, AgentSession>();

export class AgentSession {
  readonly channel: AgentChannel;
  readonly #runner: QemuDomainRunner;
  readonly #client: AgentClient;
  #open: boolean | undefined;
  readonly #unsubscribe: () => void;

  /** The session of a running guest, made at first use and kept as long as its runner. */
  static of(runner: QemuDomainRunner, live: DomainDef): AgentSession {
    let s = sessions.get(runner);
    // the run directory of this run (named after its id), where the command line put the socket
    const channel = agentChannel(live, runner.migration.core.paths.runDir);
    if (!s || s.channel.path !== channel.path || s.channel.alias !== channel.alias) {
      s?.close();
      s = new AgentSession(runner, channel);
      sessions.set(runner, s);
    }
    return s;
  }

  private constructor(runner: QemuDomainRunner, channel: AgentChannel) {
    this.#runner = runner;
    this.channel = channel;
    this.#client = new AgentClient(channel.path);
    this.#unsubscribe = runner.subscribe((ev) => this.#onEvent(ev));
  }

  /** Whether the guest has the port open, as QEMU last said; undefined before the first look. */
  get connected(): boolean | undefined {
    return this.#open;
  }

  /** Sends one command after checking the guest listens; see {@link AgentClient.send}. */
  async send(command: string, opts: AgentSendOptions): Promise<string | undefined> {
    if (this.#open === undefined) this.#open = await this.#frontendOpen(opts.signal);
    if (!this.#open) throw new VirError('AGENT_UNRESPONSIVE', 'qemu', 'QEMU guest agent is not connected');
    return this.#client.send(command, opts);
  }

  close(): void {
    this.#unsubscribe();
    this.#client.reset();
  }

  #onEvent(ev: RunnerEvent): void {
    if (ev.type === 'lifecycle' && ev.event === 'stopped') {
      this.#open = false;
      this.#client.reset();
      return;
    }
    if (ev.type !== 'monitor' || ev.event.event !== 'VSERPORT_CHANGE') return;
    if (ev.event.data.id !== this.channel.alias) return;
    this.#open = ev.event.data.open === true;
    // the agent in the guest (re)started or went away: what was in flight is lost either way
    this.#client.reset();
  }

  async #frontendOpen(signal: AbortSignal | undefined): Promise<boolean> {
    // QEMU's monitor is the runner's; this read-only query goes through it (see runner-core.ts)
    const qmp = this.#runner.migration.core.requireMonitor();
    const list = await qmp.execute<{ label: string; 'frontend-open'?: boolean }[]>(
      'query-chardev',
      undefined,
      signal ? { signal } : {},
    );
    const label = `char${this.channel.alias}`;
    return list.find((c) => c.label === label)?.['frontend-open'] === true;
  }
}
