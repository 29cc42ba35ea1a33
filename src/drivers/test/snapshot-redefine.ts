/**
 * The test driver's snapshot create flags: which libvirt's test driver
 * takes (`REDEFINE`, `CURRENT`, `HALT`, `QUIESCE`, `ATOMIC`, `LIVE`,
 * `VALIDATE`; the others are "unsupported flags") and `REDEFINE`: a snapshot's full document put back as
 * metadata, with libvirt's checks (shared with the QEMU driver).
 *
 * @module
 */
import { checkRedefine, parseRedefined } from '../../conf/snapshot-redefine-checks.js';
import type { DomainStateName, SnapshotCreateOptions, SnapshotRevertOptions } from '../../driver.js';
import { VirError } from '../../errors.js';
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

/**
 * `REDEFINE`: the snapshot described by `xml` goes into the domain's
 * metadata (replacing one of that name) after libvirt's checks
 * (`conf/snapshot-redefine-checks.ts`); nothing is taken. Returns its
 * name; the current snapshot changes only with `current`.
 */
export function redefineSnapshot(d: TestDomain, xml: string, current: boolean): string {
  const snaps = d.snapshots ?? new Map<string, TestSnapshot>();
  const { def, name, state, creationTime, dom } = checkRedefine(parseRedefined(xml, 'test'), {
    driver: 'test',
    uuid: d.uuid,
    existing: (n) => {
      const s = snaps.get(n);
      // the test driver keeps a disk-snapshot state as shutoff, so whether it was disk-only is not known
      return s && { online: s.state === 'running' || s.state === 'paused' };
    },
    descendants: (n) => descendants(snaps, n),
  });
  snaps.set(name, {
    name,
    description: def.description,
    // a listed disk-snapshot state reads as shut off, as libvirt's virDomainSnapshotGetState maps it
    state: (state === 'disk-snapshot' ? 'shutoff' : state) as DomainStateName,
    parent: def.parentName,
    creationTime,
    def: dom,
  });
  d.snapshots = snaps;
  if (current) d.currentSnapshot = name;
  return name;
}
