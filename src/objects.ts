/**
 * What `Connection` needs for the object kinds next to domains, in one
 * place: the sub-object classes (`conn.storagePools`, `conn.networks`,
 * `conn.secrets`, `conn.nodeDevices`), the `NO_SUPPORT` of a kind a driver
 * lacks, and their event streams. Each sub-object stands for one of
 * libvirt's secondary drivers, so the names follow libvirt's API
 * (`storagePools.define` is `virStoragePoolDefineXML`) and the facade stays
 * one small file.
 *
 * @module
 */
import type { ObjectDrivers, ObjectEvent, ObjectEventKind, ObjectKind } from './driver-objects.js';
import { VirError } from './errors.js';
import { EventStream, type EventStreamOptions } from './event-stream.js';
import { KIND_DOMAIN, KIND_NAME } from './object-args.js';

export type {
  ObjectDrivers,
  ObjectEvent,
  ObjectEventKind,
  ObjectKind,
  ObjectOwner,
} from './driver-objects.js';
export { Networks } from './network.js';
export { NodeDevices } from './node-device.js';
export { Secrets } from './secret.js';
export { StoragePools } from './storage-pools.js';

/** `NO_SUPPORT` for a call of a kind the driver has no sub-driver for. */
export function missingKind(type: string, kind: ObjectKind, what: string): VirError {
  return new VirError(
    'NO_SUPPORT',
    KIND_DOMAIN[kind],
    `${type} driver has no ${KIND_NAME[kind]} driver (${what})`,
  );
}

/**
 * An event stream of one kind, registered with the sub-driver; `streams`
 * is the connection's set, which ends them on close.
 */
export function objectEvents<E extends ObjectEvent>(
  type: string,
  drivers: ObjectDrivers,
  kind: ObjectEventKind,
  options: EventStreamOptions<E>,
  streams: Set<{ end(): void }>,
): EventStream<E> {
  const sub = drivers[kind];
  const subscribe = sub?.subscribe?.bind(sub) as ((l: (e: ObjectEvent) => void) => () => void) | undefined;
  if (!subscribe) {
    const what = `${KIND_NAME[kind]} events`;
    throw new VirError('NO_SUPPORT', KIND_DOMAIN[kind], `${type} driver does not deliver ${what}`);
  }
  const stream: EventStream<E> = new EventStream(
    options,
    (listener) => subscribe(listener),
    () => streams.delete(stream),
  );
  streams.add(stream);
  return stream;
}
