/**
 * `REDEFINE` in the QEMU driver: a snapshot's full document (as
 * `getSnapshotXML` gave it) written back as metadata, to list a snapshot
 * again after `noMetadata`, after a `metadataOnly` delete or after the
 * guest moved. Nothing touches the disks or the guest.
 *
 * The checks: libvirt's driver-independent ones
 * (`conf/snapshot-redefine-checks.ts`), then libvirt's QEMU ones (a name
 * its metadata file can carry, a state QEMU can have been in). As libvirt,
 * an internal snapshot is not looked up in the qcow2 images (its QEMU
 * driver leaves that open); what it cannot do without is checked here
 * beyond libvirt: an external snapshot's overlay files must exist, since
 * the disks run on them.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { type DomainSnapshotDef, snapshotNameProblem } from '../../../conf/snapshot.js';
import { checkRedefine, parseRedefined } from '../../../conf/snapshot-redefine-checks.js';
import type { CallOptions, DomainRef, SnapshotCreateOptions } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { type Entry, refuseForeign } from './domain-entry.js';
import type { DomainListAccess } from './migration.js';
import { checkCreateFlags } from './snapshot-flags.js';
import { SnapshotStore } from './snapshot-store.js';

/** `virDomainSnapshotCreateXML` with `REDEFINE`: returns the snapshot's name. */
export async function redefineSnapshot(
  side: DomainListAccess,
  dom: DomainRef,
  xml: string,
  opts: CallOptions & SnapshotCreateOptions,
): Promise<string> {
  const def = parseRedefined(xml, 'qemu');
  refuseQemuProblems(def);
  const e = await side.owned(dom, opts, 'redefine a snapshot of');
  return side.jobs.run(e.uuid, 'snapshot create', async () => store(side, e, def, opts), opts.signal);
}

/** What libvirt's QEMU driver refuses in the document itself. */
function refuseQemuProblems(def: DomainSnapshotDef): void {
  const problem = def.name === undefined ? undefined : snapshotNameProblem(def.name);
  // the metadata file is named after the snapshot
  if (problem) throw new VirError('XML_DETAIL', 'qemu', problem, { field: '/domainsnapshot/name' });
  const field = '/domainsnapshot/state';
  if (def.state === 'pmsuspended')
    throw new VirError(
      'OPERATION_UNSUPPORTED',
      'qemu',
      "qemu doesn't support taking snapshots of PMSUSPENDED guests",
      {
        field,
      },
    );
  if (def.state === 'nostate' || def.state === 'blocked')
    throw new VirError('INTERNAL_ERROR', 'qemu', `Invalid domain state ${def.state}`, { field });
}

/** The overlay (and memory) files an external snapshot names; each must be there. */
function refuseMissingFiles(def: DomainSnapshotDef): void {
  for (const d of def.disks?.disk ?? []) {
    const file = d.source?.file;
    if (d.snapshot === 'external' && file !== undefined && !existsSync(file))
      throw new VirError(
        'INVALID_ARG',
        'qemu',
        `overlay ${file} of disk ${d.name} in the snapshot does not exist`,
        {
          field: '/domainsnapshot/disks',
        },
      );
  }
  const mem = def.memory;
  if (mem?.snapshot === 'external' && mem.file !== undefined && !existsSync(mem.file))
    throw new VirError('INVALID_ARG', 'qemu', `memory file ${mem.file} of the snapshot does not exist`, {
      field: '/domainsnapshot/memory/@file',
    });
}

function store(
  side: DomainListAccess,
  e: Entry,
  def: DomainSnapshotDef,
  opts: CallOptions & SnapshotCreateOptions,
): string {
  refuseForeign(e, 'redefine a snapshot of');
  checkCreateFlags(e, opts);
  const files = new SnapshotStore(side.runners.options.stateRoot, e.name);
  const all = files.list();
  const byName = new Map(all.map((s) => [s.name!, s]));
  const { name, replaces } = checkRedefine(def, {
    driver: 'qemu',
    uuid: e.uuid,
    diskOnly: opts.diskOnly === true,
    existing: (n) => {
      const s = byName.get(n);
      return (
        s && { online: s.state === 'running' || s.state === 'paused', diskOnly: s.state === 'disk-snapshot' }
      );
    },
    descendants: (n) => below(all, n),
  });
  refuseMissingFiles(def);
  const prevCurrent = files.current();
  // <active> is the driver's; a replaced current snapshot stays current, as libvirt keeps its object
  def.active = opts.current || (replaces && prevCurrent === name) ? 1 : 0;
  files.write(def);
  if (opts.current && prevCurrent !== name) {
    // libvirt drops the revert overlays of the snapshot that stops being current
    const prev = prevCurrent !== undefined ? byName.get(prevCurrent) : undefined;
    if (prev?.revertDisks !== undefined) {
      delete prev.revertDisks;
      files.write(prev);
    }
    files.setCurrent(name);
  }
  return name;
}

/** `name` and every snapshot below it. */
function below(all: readonly DomainSnapshotDef[], name: string): Set<string> {
  const out = new Set([name]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of all)
      if (s.parentName !== undefined && out.has(s.parentName) && !out.has(s.name!)) {
        out.add(s.name!);
        grew = true;
      }
  }
  return out;
}
