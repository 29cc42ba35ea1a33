/**
 * `pool-event`, `net-event` and `secret-event`: wait for the library's
 * events of one kind and print them as virsh does, one-shot or with
 * `--loop`, ending at `--timeout` or Ctrl-C with virsh's closing lines.
 * As in virsh, the command succeeds only when it received an event.
 *
 * virsh also lists `metadata-change` (networks); the library delivers no
 * such event, so waiting for it is refused rather than left to time out.
 * `nodedev-event` is missing: the library has no node device events yet.
 *
 * @module
 */
import type { NetworkEvent, ObjectEvent, SecretEvent, StoragePoolEvent } from '../../driver-objects.js';
import type { OptSpec } from '../args.js';
import { CliError, type CommandContext, type CommandDef } from '../command.js';
import { virshTimestamp } from '../format.js';
import { tryTo } from '../libvirt-words.js';
import { printEvents } from './event-loop.js';

const cap = (w: string) => `${w[0]?.toUpperCase()}${w.slice(1)}`;

interface EventKind<E extends ObjectEvent> {
  readonly name: string;
  readonly summary: string;
  /** `storage pool`, `network`, `secret`: the words of the description. */
  readonly what: string;
  readonly filter: OptSpec;
  /** Every event type virsh lists, and the line of an event of that type (undefined: not this type). */
  readonly types: Readonly<Record<string, ((e: E) => string | undefined) | null>>;
  /** The object the filter option names, as the identity events carry. */
  resolve(ctx: CommandContext, key: string): Promise<string>;
  /** The event's object's identity, to compare with {@link resolve}'s. */
  identity(e: E): string;
  stream(ctx: CommandContext, signal: AbortSignal): Promise<AsyncIterable<E>>;
}

const COMMON_OPTS: readonly OptSpec[] = [
  { name: 'event', kind: 'string', help: 'which event type to wait for' },
  { name: 'loop', kind: 'bool', help: 'loop until timeout or interrupt, rather than one-shot' },
  { name: 'timeout', kind: 'number', help: 'timeout seconds' },
  { name: 'list', kind: 'bool', help: 'list valid event types' },
  { name: 'timestamp', kind: 'bool', help: 'show timestamp for each printed event' },
];

function eventCommand<E extends ObjectEvent>(k: EventKind<E>): CommandDef {
  return {
    name: k.name,
    group: k.name.startsWith('pool') ? 'pool' : k.name.startsWith('net') ? 'network' : 'secret',
    summary: k.summary,
    description: `List event types, or wait for ${k.what} events to occur`,
    options: [k.filter, ...COMMON_OPTS],
    async run(ctx, opts) {
      if (opts.flag('list')) {
        for (const t of Object.keys(k.types)) ctx.out(t);
        return true;
      }
      const type = opts.str('event');
      if (type === undefined) throw new CliError('either --list or --event <type> is required');
      if (!Object.hasOwn(k.types, type)) throw new CliError(`unknown event type ${type}`);
      const print = k.types[type];
      if (!print) throw new CliError(`event type ${type} is not supported by virtkit`);
      const timeoutText = opts.str('timeout');
      let timeout: number | undefined;
      if (timeoutText !== undefined) {
        // virsh takes whole positive seconds that fit its millisecond int
        if (!/^\d+$/.test(timeoutText) || Number(timeoutText) < 1 || Number(timeoutText) > 2147483) {
          throw new CliError(
            `Numeric value '${timeoutText}' for <timeout> option is malformed or out of range`,
          );
        }
        timeout = Number(timeoutText);
      }
      const key = opts.str(k.filter.name);
      const only = key === undefined ? undefined : await k.resolve(ctx, key);
      // connected before the clock starts: the timeout is for waiting, not for loading the library
      await ctx.conn();

      return printEvents(ctx, {
        timeout,
        loop: opts.flag('loop'),
        stream: (signal) => k.stream(ctx, signal),
        line(e) {
          if (only !== undefined && k.identity(e) !== only) return undefined;
          const line = print(e);
          if (line === undefined) return undefined;
          return opts.flag('timestamp') ? `${virshTimestamp(e.timestamp)}: ${line}` : line;
        },
      });
    },
  };
}

const POOL_LIFECYCLE = new Set(['defined', 'undefined', 'started', 'stopped', 'created', 'deleted']);

const poolEvent = eventCommand<StoragePoolEvent>({
  name: 'pool-event',
  summary: 'Storage Pool Events',
  what: 'storage pool',
  filter: { name: 'pool', kind: 'string', help: 'filter by storage pool name or uuid' },
  types: {
    lifecycle: (e) =>
      POOL_LIFECYCLE.has(e.event)
        ? `event 'lifecycle' for storage pool ${e.pool.name}: ${cap(e.event)}`
        : undefined,
    refresh: (e) => (e.event === 'refreshed' ? `event 'refresh' for storage pool ${e.pool.name}` : undefined),
  },
  async resolve(ctx, key) {
    const conn = await ctx.conn();
    return (await tryTo(`failed to get pool '${key}'`, () => conn.storagePools.lookup(key))).uuid;
  },
  identity: (e) => e.pool.uuid,
  async stream(ctx, signal) {
    return (await ctx.conn()).storagePools.events({ signal });
  },
});

const netEvent = eventCommand<NetworkEvent>({
  name: 'net-event',
  summary: 'Network Events',
  what: 'network',
  filter: { name: 'network', kind: 'string', help: 'filter by network name or uuid' },
  types: {
    lifecycle: (e) => `event 'lifecycle' for network ${e.network.name}: ${cap(e.event)}`,
  },
  async resolve(ctx, key) {
    const conn = await ctx.conn();
    return (await tryTo(`failed to get network '${key}'`, () => conn.networks.lookup(key))).uuid;
  },
  identity: (e) => e.network.uuid,
  async stream(ctx, signal) {
    return (await ctx.conn()).networks.events({ signal });
  },
});

const secretEvent = eventCommand<SecretEvent>({
  name: 'secret-event',
  summary: 'Secret Events',
  what: 'secret',
  filter: { name: 'secret', kind: 'string', help: 'filter by secret name or uuid' },
  types: {
    lifecycle: (e) =>
      e.event === 'valueChanged'
        ? undefined
        : `event 'lifecycle' for secret ${e.secret.uuid}: ${cap(e.event)}`,
    'value-changed': (e) =>
      e.event === 'valueChanged' ? `event 'value-changed' for secret ${e.secret.uuid}` : undefined,
  },
  async resolve(ctx, key) {
    const conn = await ctx.conn();
    return (await tryTo(`failed to get secret '${key}'`, () => conn.secrets.lookup(key))).uuid;
  },
  identity: (e) => e.secret.uuid,
  async stream(ctx, signal) {
    return (await ctx.conn()).secrets.events({ signal });
  },
});

/** The commands, for the session's table. */
export const objectEventCommands: readonly CommandDef[] = [netEvent, poolEvent, secretEvent];
