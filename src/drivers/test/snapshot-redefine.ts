/**
 * The test driver's snapshot create flags: which libvirt's test driver
 * takes (`REDEFINE`, `CURRENT`, `HALT`, `QUIESCE`, `ATOMIC`, `LIVE`,
 * `VALIDATE`; the others are "unsupported flags") and `REDEFINE`: a snapshot's full document put back as
 * metadata, with libvirt's checks (a name, a state and a creation time, a
 * definition of this domain, a parent that exists and no cycle, no change
 * between online and offline).
 *
 * @module
 */
import { DomainSnapshotDef } from '../../conf/snapshot.js';
import type { DomainStateName, SnapshotCreateOptions, SnapshotRevertOptions } from '../../driver.js';
import { VirError } from '../../errors.js';
import { parseXml } from '../../xml/parse.js';
import type { XmlElement } from '../../xml/tree.js';
import { descendants, type TestSnapshot } from './snapshots.js';
import type { TestDomain } from './test-host.js';

/** libvirt's numeric values of the create flags the test driver refuses. */
const CREATE_REFUSED: ReadonlyArray<[keyof SnapshotCreateOptions, number]> = [
  ['noMetadata', 1 << 2],
  ['diskOnly', 1 << 4],
  ['reuseExt', 1 << 5],
];

/** Refuses what libvirt's test driver does not take, with its message. */
export function refuseUnsupportedCreateFlags(o: SnapshotCreateOptions): void {
  const bits = CREATE_REFUSED.reduce((n, [k, v]) => (o[k] ? n | v : n), 0);
  if (bits !== 0)
    throw new VirError(
      'INVALID_ARG',
      'test',
      `unsupported flags (0x${bits.toString(16)}) in function testDomainSnapshotCreateXML`,
    );
}

/** `RESET_NVRAM` (0x8) is not one the test driver's revert takes. */
export function refuseUnsupportedRevertFlags(o: SnapshotRevertOptions): void {
  if (o.resetNvram)
    throw new VirError(
      'INVALID_ARG',
      'test',
      'unsupported flags (0x8) in function testDomainRevertToSnapshot',
    );
}

const ONLINE = new Set(['running', 'paused']);

/**
 * `REDEFINE`: the snapshot described by `xml` goes into the domain's
 * metadata (replacing one of that name); nothing is taken. Returns its
 * name; the current snapshot changes only with `current`.
 */
export function redefineSnapshot(d: TestDomain, xml: string, current: boolean): string {
  let root: XmlElement;
  let def: DomainSnapshotDef;
  try {
    root = parseXml(xml);
    def = DomainSnapshotDef.fromElement(root);
  } catch (err) {
    if (err instanceof VirError) throw err;
    throw new VirError('XML_ERROR', 'test', `cannot parse the snapshot: ${(err as Error).message}`);
  }
  const name = def.name;
  if (name === undefined || name === '')
    throw new VirError('XML_ERROR', 'test', 'a redefined snapshot must have a name', {
      field: '/domainsnapshot/name',
    });
  if (def.creationTime === undefined)
    throw new VirError('INTERNAL_ERROR', 'test', 'missing creationTime from existing snapshot', {
      field: '/domainsnapshot/creationTime',
    });
  if (def.state === undefined)
    throw new VirError('XML_ERROR', 'test', 'missing state from existing snapshot', {
      field: '/domainsnapshot/state',
    });
  const offline = def.state === 'shutoff' || def.state === 'disk-snapshot';
  if (offline && def.memory?.snapshot === 'internal')
    throw new VirError(
      'XML_ERROR',
      'test',
      'memory state cannot be saved with offline or disk-only snapshot',
      {
        field: '/domainsnapshot/memory/@snapshot',
      },
    );
  const dom = def.domainDef();
  if (!dom)
    throw new VirError('INTERNAL_ERROR', 'test', 'missing domain in snapshot', {
      field: '/domainsnapshot/domain',
    });
  if (dom.uuid !== d.uuid)
    throw new VirError('INVALID_ARG', 'test', `definition for snapshot ${name} must use uuid ${d.uuid}`, {
      field: '/domainsnapshot/domain/uuid',
    });
  const snaps = d.snapshots ?? new Map<string, TestSnapshot>();
  const parent = def.parentName;
  if (parent !== undefined) {
    if (parent === name)
      throw new VirError('INVALID_ARG', 'test', `cannot set moment ${name} as its own parent`, {
        field: '/domainsnapshot/parent/name',
      });
    if (!snaps.has(parent))
      throw new VirError('INVALID_ARG', 'test', `parent ${parent} for moment ${name} not found`, {
        field: '/domainsnapshot/parent/name',
      });
    if (snaps.has(name) && descendants(snaps, name).has(parent))
      throw new VirError('INVALID_ARG', 'test', `parent ${parent} would create cycle to ${name}`, {
        field: '/domainsnapshot/parent/name',
      });
  }
  const other = snaps.get(name);
  if (other && ONLINE.has(other.state) !== ONLINE.has(def.state))
    throw new VirError(
      'INVALID_ARG',
      'test',
      `cannot change between online and offline snapshot state in snapshot ${name}`,
      { field: '/domainsnapshot/state' },
    );
  snaps.set(name, {
    name,
    description: def.description,
    // a listed disk-snapshot state reads as shut off, as libvirt's virDomainSnapshotGetState maps it
    state: (def.state === 'disk-snapshot' ? 'shutoff' : def.state) as DomainStateName,
    parent,
    creationTime: def.creationTime,
    def: dom,
  });
  d.snapshots = snaps;
  if (current) d.currentSnapshot = name;
  return name;
}
