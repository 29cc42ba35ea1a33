/**
 * I/O threads: one `-object iothread` per `<iothreadids>` entry (or per
 * thread of a bare `<iothreads>` count, numbered from 1), with its worker
 * pool and polling settings, then the `main-loop` object that carries
 * `<defaultiothread>`'s pool. libvirt writes them right after `-smp`.
 *
 * @module
 */

import { type IothreadMapping, iothreadMappingMapper } from '../../../conf/domain/devices/disk.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { XmlElement } from '../../../xml/tree.js';
import { hasFlag, type QemuCaps } from '../probe/qemu-caps.js';
import type { ArgvBuilder } from './argv-builder.js';

interface IothreadEntry {
  id: number;
  threadMin?: number;
  threadMax?: number;
  poll?: { max?: number; grow?: number; shrink?: number };
}

/** The guest's I/O threads in libvirt's order: listed ones first, as written. */
export function iothreadEntries(def: DomainDef): IothreadEntry[] {
  const listed = def.iothreadIds?.iothreads ?? [];
  // <iothreads> counts them all: the ones <iothreadids> leaves out take the lowest free ids
  // (libvirt fills them in at define; a definition that was not through it is filled here)
  const count = def.iothreads ?? 0;
  if (listed.length >= count) return listed;
  const used = new Set(listed.map((t) => t.id));
  const out: IothreadEntry[] = [...listed];
  for (let id = 1; out.length < count; id++) if (!used.has(id)) out.push({ id });
  return out;
}

/** A worker pool's bounds, checked as libvirt does (max positive, min not above it). */
function poolProps(
  pool: { threadMin?: number; threadMax?: number },
  caps: QemuCaps,
  field: string,
): Record<string, number> {
  const p: Record<string, number> = {};
  if (pool.threadMin === undefined && pool.threadMax === undefined) return p;
  if (!hasFlag(caps, 'iothread.thread-pool-max'))
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'this QEMU cannot size I/O thread worker pools', {
      field: `${field}/@thread_pool_max`,
    });
  if (pool.threadMax === 0)
    throw new VirError('XML_DETAIL', 'qemu', 'thread_pool_max must be a positive number', {
      field: `${field}/@thread_pool_max`,
    });
  if (pool.threadMin !== undefined && pool.threadMax !== undefined && pool.threadMin > pool.threadMax)
    throw new VirError('XML_DETAIL', 'qemu', 'thread_pool_min must not be above thread_pool_max', {
      field: `${field}/@thread_pool_min`,
    });
  if (pool.threadMin !== undefined) p['thread-pool-min'] = pool.threadMin;
  if (pool.threadMax !== undefined) p['thread-pool-max'] = pool.threadMax;
  return p;
}

export function buildIothreads(b: ArgvBuilder, def: DomainDef, caps: QemuCaps): void {
  checkIothreadMappingCaps(def, caps);
  for (const [i, t] of iothreadEntries(def).entries()) {
    const field = `/domain/iothreadids/iothread[${i + 1}]`;
    const obj: Record<string, unknown> = {
      'qom-type': 'iothread',
      id: `iothread${t.id}`,
      ...poolProps(t, caps, field),
    };
    if (t.poll?.max !== undefined) obj['poll-max-ns'] = t.poll.max;
    if (t.poll?.grow !== undefined) obj['poll-grow'] = t.poll.grow;
    if (t.poll?.shrink !== undefined) obj['poll-shrink'] = t.poll.shrink;
    b.props('-object', obj, field);
  }
  const main = def.defaultIothread;
  if (main)
    b.props(
      '-object',
      { 'qom-type': 'main-loop', id: 'main-loop', ...poolProps(main, caps, '/domain/defaultiothread') },
      '/domain/defaultiothread',
    );
}

/** Whether the guest has an I/O thread of this id (devices may only name those). */
export function hasIothread(def: DomainDef, id: number): boolean {
  return iothreadEntries(def).some((t) => t.id === id);
}

/** A controller's `<driver><iothreads>` (kept as XML in the controller model), read as a mapping. */
export function controllerIothreadMapping(
  driver: XmlElement | undefined,
  field: string,
): IothreadMapping | undefined {
  const el = driver?.children.find((n): n is XmlElement => n.type === 'element' && n.name === 'iothreads');
  return el ? iothreadMappingMapper.read(el, `${field}/driver/iothreads`) : undefined;
}

/**
 * QEMU's `iothread-vq-mapping` for a virtio device, checked as libvirt
 * does: each thread exists and is named once; queue indexes are given for
 * every thread or for none, and when given (which needs a queue count)
 * cover every queue exactly once.
 */
export function iothreadMappingProps(
  def: DomainDef,
  mapping: IothreadMapping | undefined,
  queues: number | undefined,
  field: string,
): Array<Record<string, unknown>> | undefined {
  const threads = mapping?.iothreads ?? [];
  if (threads.length === 0) return undefined;
  const at = `${field}/driver/iothreads`;
  const refuse = (msg: string, where = at) => {
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', msg, { field: where });
  };
  const explicit = (threads[0]?.queues ?? []).length > 0;
  if (explicit && (queues === undefined || queues === 0))
    refuse('mapping queues to I/O threads needs a queue count', `${field}/driver/@queues`);
  const seen = new Set<number>();
  const mapped = new Set<number>();
  const out: Array<Record<string, unknown>> = [];
  for (const [i, t] of threads.entries()) {
    const where = `${at}/iothread[${i + 1}]`;
    if (seen.has(t.id)) refuse(`I/O thread ${t.id} is mapped twice`, where);
    seen.add(t.id);
    if (!hasIothread(def, t.id)) refuse(`I/O thread ${t.id} is not one of the domain's I/O threads`, where);
    const vqs = (t.queues ?? []).map((q) => q.id);
    if (explicit !== vqs.length > 0) refuse('queues must be mapped for every I/O thread or for none', where);
    for (const q of vqs) {
      if (q >= (queues ?? 0)) refuse(`queue ${q} is out of range`, where);
      if (mapped.has(q)) refuse(`queue ${q} is mapped twice`, where);
      mapped.add(q);
    }
    out.push(vqs.length > 0 ? { iothread: `iothread${t.id}`, vqs } : { iothread: `iothread${t.id}` });
  }
  if (explicit)
    for (let q = 0; q < (queues ?? 0); q++) if (!mapped.has(q)) refuse(`queue ${q} has no I/O thread`);
  return out;
}

/** Refuses I/O thread mappings this QEMU cannot take, before any device is written. */
export function checkIothreadMappingCaps(def: DomainDef, caps: QemuCaps): void {
  for (const [i, d] of (def.devices?.disks ?? []).entries())
    if ((d.driver?.iothreads?.iothreads ?? []).length > 0 && !hasFlag(caps, 'virtio-blk.iothread-mapping'))
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        'this QEMU cannot map virtio-blk queues to I/O threads',
        {
          field: `/domain/devices/disk[${i + 1}]/driver/iothreads`,
        },
      );
  for (const c of def.devices?.controllers ?? []) {
    if (c.type !== 'scsi') continue;
    const field = `/domain/devices/controller[@type='scsi'][@index=${c.index ?? 0}]`;
    if (controllerIothreadMapping(c.driver, field) && !hasFlag(caps, 'virtio-scsi.iothread-mapping'))
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        'this QEMU cannot map virtio-scsi queues to I/O threads',
        {
          field: `${field}/driver/iothreads`,
        },
      );
  }
}
