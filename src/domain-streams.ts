/**
 * The facade's event streams of domains: the domain events of the ids a
 * caller asks for (`Connection.events`), and the raw QMP events of the QEMU
 * driver's monitor tap (`Connection.qemuMonitorEvents`). Both are
 * {@link EventStream}s in the connection's set, which ends them on close.
 *
 * @module
 */
import { canonicalUuid, looksLikeUuid } from './connection-args.js';
import type { DomainEventId, QemuMonitorEvent } from './domain-events.js';
import type { DriverConnection } from './driver.js';
import { VirError } from './errors.js';
import { EventStream, type EventStreamOptions, type StreamEvent, streamIds } from './event-stream.js';
import { eventNameMatches, type QemuMonitorEventOptions } from './qemu-monitor.js';

/** `Connection.events()`: the driver is told which ids are wanted (a remote one registers each). */
export function domainEvents<R extends boolean, I extends DomainEventId>(
  driver: DriverConnection,
  options: EventStreamOptions<StreamEvent<R, I>>,
  streams: Set<{ end(): void }>,
): EventStream<StreamEvent<R, I>> {
  const subscribe = driver.subscribe?.bind(driver);
  if (!subscribe)
    throw new VirError('NO_SUPPORT', 'connect', `${driver.type} driver does not deliver events`);
  const ids = streamIds(options) as Set<DomainEventId>;
  const stream = new EventStream<StreamEvent<R, I>>(
    options,
    (listener) => subscribe(listener, ids),
    () => streams.delete(stream),
  );
  streams.add(stream);
  return stream;
}

/** `Connection.qemuMonitorEvents()`: `NO_SUPPORT` from drivers without a QEMU monitor. */
export function qemuMonitorEvents(
  driver: DriverConnection,
  options: QemuMonitorEventOptions,
  streams: Set<{ end(): void }>,
): EventStream<QemuMonitorEvent> {
  const subscribe = driver.subscribeQemuMonitor?.bind(driver);
  if (!subscribe)
    throw new VirError('NO_SUPPORT', 'connect', `${driver.type} driver has no QEMU monitor events`);
  const { domain, event } = options;
  if (event !== undefined && typeof event !== 'string' && !(event instanceof RegExp))
    throw new VirError('INVALID_ARG', 'connect', 'event must be a string or a RegExp', { field: 'event' });
  const key = domainKey(domain);
  const stream = new EventStream<QemuMonitorEvent>(
    {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.bufferSize !== undefined ? { bufferSize: options.bufferSize } : {}),
      filter: (e) =>
        (key === undefined || e.domain.uuid === key || e.domain.name === key) &&
        eventNameMatches(e.event, event),
    },
    (listener) => subscribe(listener),
    () => streams.delete(stream),
  );
  streams.add(stream);
  return stream;
}

function domainKey(domain: QemuMonitorEventOptions['domain']): string | undefined {
  if (domain === undefined) return undefined;
  const s = typeof domain === 'string' ? domain : domain?.uuid;
  if (typeof s !== 'string' || s === '')
    throw new VirError('INVALID_ARG', 'connect', 'domain must be a name, a UUID or a Domain', {
      field: 'domain',
    });
  return looksLikeUuid(s) ? canonicalUuid(s) : s;
}
