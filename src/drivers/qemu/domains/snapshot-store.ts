/**
 * Snapshot metadata of the QEMU driver on disk, as libvirt keeps it: one
 * `<domainsnapshot>` file per snapshot at
 * `<stateRoot>/qemu/snapshot/<domain>/<snapshot>.xml`, the full document
 * (the domain definition of that moment included) with `<active>1</active>`
 * on the domain's current snapshot. The tree is the files' `<parent>`
 * names. Files are written whole (temporary file, rename), so a process
 * killed mid-write leaves the old or the new document.
 *
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DomainSnapshotDef } from '../../../conf/snapshot.js';
import { toVirError, VirError } from '../../../errors.js';
import { writeFileAtomic } from '../lifecycle/atomic-file.js';

/** The folder holding domain `name`'s snapshot files. */
export function snapshotDir(stateRoot: string, name: string): string {
  return join(stateRoot, 'qemu', 'snapshot', name);
}

/** One domain's snapshots: read from its folder on every call, so two connections on one root agree. */
export class SnapshotStore {
  readonly dir: string;

  constructor(stateRoot: string, domainName: string) {
    this.dir = snapshotDir(stateRoot, domainName);
  }

  #path(name: string): string {
    return join(this.dir, `${name}.xml`);
  }

  /** Every snapshot, oldest first. */
  list(): DomainSnapshotDef[] {
    let files: string[];
    try {
      files = readdirSync(this.dir).filter((f) => f.endsWith('.xml'));
    } catch {
      return [];
    }
    const snaps: DomainSnapshotDef[] = [];
    for (const f of files) {
      try {
        const def = DomainSnapshotDef.fromXML(readFileSync(join(this.dir, f), 'utf8'));
        // a file whose name is not its snapshot's (copied, renamed by hand) is not one of ours
        if (def.name === f.slice(0, -4)) snaps.push(def);
      } catch {
        // libvirt, too, skips a metadata file it cannot parse (and logs it)
      }
    }
    return ordered(snaps);
  }

  /** The snapshot named `name`; `NO_DOMAIN_SNAPSHOT` when there is none. */
  get(name: string): DomainSnapshotDef {
    const found = this.list().find((s) => s.name === name);
    if (!found)
      throw new VirError('NO_DOMAIN_SNAPSHOT', 'qemu', `no domain snapshot with matching name '${name}'`);
    return found;
  }

  has(name: string): boolean {
    return this.list().some((s) => s.name === name);
  }

  /** The current snapshot's name, if any. */
  current(): string | undefined {
    return this.list().find((s) => s.active === 1)?.name;
  }

  write(def: DomainSnapshotDef): void {
    if (def.name === undefined)
      throw new VirError('INTERNAL_ERROR', 'qemu', 'a snapshot to store has no name');
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw toVirError(err, 'WRITE_FAILED', 'qemu', `cannot create ${this.dir}`);
    }
    writeFileAtomic(this.#path(def.name), def.toXML());
  }

  remove(name: string): void {
    rmSync(this.#path(name), { force: true });
  }

  /** Makes `name` the current snapshot (undefined: none), rewriting the files whose `<active>` changes. */
  setCurrent(name: string | undefined): void {
    for (const s of this.list()) {
      const want = s.name === name ? 1 : 0;
      if ((s.active ?? 0) === want) continue;
      s.active = want;
      this.write(s);
    }
  }

  /** Removes every file and the folder (`undefine` with snapshot metadata). */
  removeAll(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Oldest first; within one second (the creation time's unit) parents before their children, then by name. */
function ordered(snaps: DomainSnapshotDef[]): DomainSnapshotDef[] {
  const byName = new Map(snaps.map((s) => [s.name!, s]));
  const depth = (s: DomainSnapshotDef): number => {
    let d = 0;
    const seen = new Set<string>();
    for (
      let p = s.parentName;
      p !== undefined && byName.has(p) && !seen.has(p);
      p = byName.get(p)!.parentName
    ) {
      seen.add(p);
      d++;
    }
    return d;
  };
  const keyed = snaps.map((s) => ({ s, t: s.creationTime ?? 0, d: depth(s) }));
  keyed.sort(
    (a, b) => a.t - b.t || a.d - b.d || (a.s.name! < b.s.name! ? -1 : a.s.name! > b.s.name! ? 1 : 0),
  );
  return keyed.map((k) => k.s);
}
