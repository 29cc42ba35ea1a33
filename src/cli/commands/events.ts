/**
 * `event`: waits for domain events and prints them as virsh does. The
 * library delivers lifecycle events, so `lifecycle` is the one event type.
 *
 * @module
 */
import type { DomainEvent } from '../../driver.js';
import { parseCount } from '../args.js';
import { CliError, type CommandDef } from '../command.js';
import { eventLine } from '../format.js';
import { printEvents } from './event-loop.js';

const EVENT_TYPES = ['lifecycle'] as const;

const event: CommandDef = {
  name: 'event',
  group: 'domain',
  summary: 'Domain Events',
  description: 'List event types, or wait for domain events to occur',
  options: [
    { name: 'domain', kind: 'string', help: 'filter by domain name, id or uuid' },
    { name: 'event', kind: 'string', help: 'which event type to wait for' },
    { name: 'all', kind: 'bool', help: 'wait for all events instead of just one type' },
    { name: 'loop', kind: 'bool', help: 'loop until timeout or interrupt, rather than one-shot' },
    { name: 'timeout', kind: 'number', help: 'timeout seconds' },
    { name: 'list', kind: 'bool', help: 'list valid event types' },
    { name: 'timestamp', kind: 'bool', help: 'show timestamp for each printed event' },
  ],
  async run(ctx, opts) {
    for (const [a, b] of [
      ['all', 'event'],
      ['list', 'all'],
      ['list', 'event'],
    ] as const) {
      if (opts.has(a) && opts.has(b)) throw new CliError(`Options --${a} and --${b} are mutually exclusive`);
    }
    if (opts.flag('list')) {
      for (const t of EVENT_TYPES) ctx.out(t);
      return true;
    }
    const type = opts.str('event');
    if (type === undefined && !opts.flag('all')) {
      throw new CliError('one of --list, --all, or --event <type> is required');
    }
    if (type !== undefined && !(EVENT_TYPES as readonly string[]).includes(type)) {
      throw new CliError(`unknown event type ${type}`);
    }
    const timeoutText = opts.str('timeout');
    const timeout = timeoutText === undefined ? undefined : parseCount(timeoutText, 'timeout');
    if (timeout === 0)
      throw new CliError(`Numeric value '0' for <timeout> option is malformed or out of range`);
    const domainKey = opts.str('domain');
    const uuid = domainKey === undefined ? undefined : (await ctx.domain(domainKey)).uuid;

    // as virsh: a wait that saw no event fails
    return printEvents(ctx, {
      timeout,
      loop: opts.flag('loop'),
      stream: async (signal) =>
        (await ctx.conn()).events({
          signal,
          ...(uuid !== undefined ? { filter: (e: DomainEvent) => e.domain.uuid === uuid } : {}),
        }),
      line: (e) => eventLine(e, opts.flag('timestamp')),
    });
  },
};

export const eventCommands: readonly CommandDef[] = [event];
