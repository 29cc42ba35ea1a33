/**
 * The driver-independent checks of a snapshot `REDEFINE` (libvirt's
 * snapshot-conf rules every driver applies before it stores the document):
 * a name, a state and a creation time, a definition of this domain, a
 * parent that exists and closes no cycle, and, when a snapshot of that
 * name exists, no change between online and offline or between disk-only
 * and full system. Used by the test and the QEMU drivers; what is
 * particular to a driver (file names, states it takes) stays in it.
 *
 * @module
 */
import { VirError, type VirErrorDomain } from '../errors.js';
import { parseXml } from '../xml/parse.js';
import type { DomainDef } from './domain/domain-def.js';
import { DomainSnapshotDef, type SnapshotState } from './snapshot.js';

/** What a snapshot of the same name, already kept, says about itself. */
export interface RedefinedOther {
  /** Its state was `running` or `paused` (it holds memory). */
  online: boolean;
  /** Its state was `disk-snapshot`; undefined when the driver no longer knows. */
  diskOnly?: boolean;
}

/** The domain a snapshot is redefined on, as the checks need to see it. */
export interface RedefineTarget {
  /** The driver reporting the errors. */
  driver: VirErrorDomain;
  /** The domain's UUID: the snapshot's definition must carry it. */
  uuid: string;
  /** The kept snapshot named `name`, if any. */
  existing(name: string): RedefinedOther | undefined;
  /** `name` and every snapshot below it (to refuse a cycle). */
  descendants(name: string): ReadonlySet<string>;
  /** `diskOnly` asked for with the redefine. */
  diskOnly?: boolean;
}

/** A redefine request that passed the checks, with what they read from it. */
export interface RedefineChecked {
  def: DomainSnapshotDef;
  name: string;
  state: SnapshotState;
  creationTime: number;
  dom: DomainDef;
  /** A snapshot of this name is kept already (the redefine replaces it). */
  replaces: boolean;
}

const ONLINE: ReadonlySet<SnapshotState> = new Set(['running', 'paused']);

/** Parses the document of a redefine (`<domainsnapshot>` only); parse errors are `XML_ERROR`. */
export function parseRedefined(xml: string, driver: VirErrorDomain): DomainSnapshotDef {
  try {
    const root = parseXml(xml);
    if (root.name !== 'domainsnapshot')
      throw new VirError(
        'XML_ERROR',
        driver,
        `expecting root element of 'domainsnapshot', not '${root.name}'`,
        {
          field: '/',
        },
      );
    return DomainSnapshotDef.fromElement(root);
  } catch (err) {
    if (err instanceof VirError) throw err;
    throw new VirError('XML_ERROR', driver, `cannot parse the snapshot: ${(err as Error).message}`);
  }
}

/** libvirt's checks of a redefined snapshot against the domain and its kept snapshots; throws the first broken one. */
export function checkRedefine(def: DomainSnapshotDef, t: RedefineTarget): RedefineChecked {
  const drv = t.driver;
  const name = def.name;
  if (name === undefined || name === '')
    throw new VirError('XML_ERROR', drv, 'a redefined snapshot must have a name', {
      field: '/domainsnapshot/name',
    });
  if (def.creationTime === undefined)
    throw new VirError('INTERNAL_ERROR', drv, 'missing creationTime from existing snapshot', {
      field: '/domainsnapshot/creationTime',
    });
  const state = def.state;
  if (state === undefined)
    throw new VirError('XML_ERROR', drv, 'missing state from existing snapshot', {
      field: '/domainsnapshot/state',
    });
  const offline = state === 'shutoff' || state === 'disk-snapshot';
  if (offline && def.memory?.snapshot === 'internal')
    throw new VirError('XML_ERROR', drv, 'memory state cannot be saved with offline or disk-only snapshot', {
      field: '/domainsnapshot/memory/@snapshot',
    });
  if (t.diskOnly && state !== 'disk-snapshot')
    throw new VirError(
      'INVALID_ARG',
      drv,
      `disk-only flag for snapshot ${name} requires disk-snapshot state`,
      {
        field: 'flags.diskOnly',
      },
    );
  const dom = def.domainDef();
  if (!dom)
    throw new VirError('INTERNAL_ERROR', drv, 'missing domain in snapshot', {
      field: '/domainsnapshot/domain',
    });
  if (dom.uuid !== t.uuid)
    throw new VirError('INVALID_ARG', drv, `definition for snapshot ${name} must use uuid ${t.uuid}`, {
      field: '/domainsnapshot/domain/uuid',
    });
  const other = t.existing(name);
  const parent = def.parentName;
  if (parent !== undefined) {
    const field = '/domainsnapshot/parent/name';
    if (parent === name)
      throw new VirError('INVALID_ARG', drv, `cannot set moment ${name} as its own parent`, { field });
    if (t.existing(parent) === undefined)
      throw new VirError('INVALID_ARG', drv, `parent ${parent} for moment ${name} not found`, { field });
    if (other && t.descendants(name).has(parent))
      throw new VirError('INVALID_ARG', drv, `parent ${parent} would create cycle to ${name}`, { field });
  }
  if (other && other.online !== ONLINE.has(state))
    throw new VirError(
      'INVALID_ARG',
      drv,
      `cannot change between online and offline snapshot state in snapshot ${name}`,
      { field: '/domainsnapshot/state' },
    );
  if (other?.diskOnly !== undefined && other.diskOnly !== (state === 'disk-snapshot'))
    throw new VirError(
      'INVALID_ARG',
      drv,
      `cannot change between disk only and full system in snapshot ${name}`,
      {
        field: '/domainsnapshot/state',
      },
    );
  return { def, name, state, creationTime: def.creationTime, dom, replaces: other !== undefined };
}
