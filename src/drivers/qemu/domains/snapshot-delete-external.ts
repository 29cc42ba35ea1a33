/**
 * Deleting an external snapshot, with libvirt's (9.0 on) rules and their
 * refusals, all checked before anything is touched:
 *
 * - A leaf that is not the current snapshot has no data anyone still
 *   needs above its images: its overlays are removed (when no definition
 *   names them).
 * - Otherwise (the current leaf, or a snapshot with one child on the
 *   current snapshot's line) each overlay is merged into the image below
 *   it, which must be the disk's source in the snapshot's definition. On a
 *   running guest QEMU's `block-commit` does it (an active commit when the
 *   overlay is the disk's top, else an intermediate one:
 *   `lifecycle/runner-block-commit.ts`); on a shut-off domain `qemu-img
 *   commit`. Images outside the guest's chain that were on the overlay are
 *   put on the base (`qemu-img rebase -u`, the data is the same). The
 *   live and persistent definitions and the definitions kept in the other
 *   snapshots lose the overlay; the overlay file goes.
 * - Refused (`CONFIG_UNSUPPORTED`, libvirt's wording): the current
 *   snapshot with children, one with several children, one with children
 *   below the current snapshot; `OPERATION_UNSUPPORTED` while a block job
 *   runs, or when the parent of the disk's snapshot is an internal one.
 *
 * @module
 */
import { existsSync, rmSync } from 'node:fs';
import type { DomainDef } from '../../../conf/domain/index.js';
import type { DomainSnapshotDef } from '../../../conf/snapshot.js';
import { VirError } from '../../../errors.js';
import { childElements, getAttr, type XmlElement } from '../../../xml/tree.js';
import { diskAlias } from '../command-line/disk-device.js';
import { headerBacking } from '../storage/image-backing.js';
import { findQemuImg, imageInfo, qemuImg } from '../storage/qemu-img.js';
import { commitConfig, commitLive } from './commit-defs.js';
import { cloneDef, type Entry, isActive } from './domain-entry.js';
import type { DomainListAccess } from './migration.js';
import { overlaysOf } from './snapshot-external.js';
import { referencedImages } from './snapshot-revert-external.js';
import type { SnapshotStore } from './snapshot-store.js';

type DiskDef = NonNullable<NonNullable<DomainDef['devices']>['disks']>[number];

/** One disk's merge: `overlay` into `base`. */
interface Merge {
  readonly target: string;
  readonly overlay: string;
  readonly base: string;
  readonly baseFormat: string;
  /** The disk as the snapshot's definition has it (on the base). */
  readonly baseDisk: DiskDef;
}

/** What deleting external snapshot `s` does, decided before anything is done. */
export interface ExternalDeletePlan {
  /** Merge into the bases, or (a leaf off the current line) just remove the overlays. */
  readonly merge: boolean;
  readonly disks: readonly Merge[];
}

function qemuImgRun(signal?: AbortSignal) {
  const binary = findQemuImg();
  if (!binary) throw new VirError('NO_SUPPORT', 'qemu', 'qemu-img is needed for external snapshots');
  return { binary, signal };
}

function unsupported(message: string): VirError {
  return new VirError('CONFIG_UNSUPPORTED', 'qemu', message, { field: '/domainsnapshot/disks' });
}

/** `name`'s ancestors, nearest first. */
function ancestors(all: readonly DomainSnapshotDef[], name: string | undefined): string[] {
  const out: string[] = [];
  let at = all.find((x) => x.name === name)?.parentName;
  while (at !== undefined && !out.includes(at)) {
    out.push(at);
    at = all.find((x) => x.name === at)?.parentName;
  }
  return out;
}

/**
 * The image files of a disk's chain, top first, from their headers (read
 * directly for qcow2, `image-backing.ts`: a delete reads several chains, and
 * a qemu-img run per image was most of its time), bounded.
 */
async function chainOf(top: string, signal?: AbortSignal): Promise<string[]> {
  const out = [top];
  let format: string | undefined;
  for (let i = 0; i < 64; i++) {
    const b = await headerBacking(out[out.length - 1]!, format, signal);
    if (!b) break;
    out.push(b.path);
    format = b.format;
  }
  return out;
}

/** Checks libvirt's rules and plans the delete of external snapshot `s`. */
export async function planExternalDelete(
  e: Entry,
  all: readonly DomainSnapshotDef[],
  s: DomainSnapshotDef,
  signal?: AbortSignal,
): Promise<ExternalDeletePlan> {
  const current = all.find((x) => x.active === 1)?.name;
  const children = all.filter((x) => x.parentName === s.name);
  if (isActive(e) && (await e.runner!.snapshot.blockJobs()).length > 0)
    throw new VirError(
      'OPERATION_UNSUPPORTED',
      'qemu',
      'cannot delete external snapshots when there is another active block job',
    );
  if (s.name === current && children.length > 0)
    throw unsupported('deletion of active external snapshot that is not a leaf snapshot is not supported');
  if (s.name !== current && children.length > 0 && ancestors(all, s.name).includes(current ?? ''))
    throw unsupported('deletion of non-leaf external snapshot that is not in active chain is not supported');
  if (children.length > 1)
    throw unsupported('deletion of external disk snapshot with multiple children snapshots not supported');
  const then = s.domainDef();
  if (!then)
    throw new VirError('OPERATION_FAILED', 'qemu', `snapshot '${s.name}' has no definition of its disks`);
  const merge = s.name === current || children.length > 0;
  const dom = isActive(e) ? e.live : e.config;
  const disks: Merge[] = [];
  for (const [target, overlay] of overlaysOf(s)) {
    const baseDisk = then.devices?.disks?.find((d) => d.target.dev === target);
    const base = baseDisk?.source?.file ?? baseDisk?.source?.dev;
    if (!baseDisk || base === undefined)
      throw new VirError('OPERATION_FAILED', 'qemu', `failed to find disk '${target}' in snapshot VM XML`);
    disks.push({ target, overlay, base, baseFormat: baseDisk.driver?.type ?? 'raw', baseDisk });
    if (!merge) continue;
    // the parent snapshot of this disk (the nearest one that took it) must be external too
    for (const name of ancestors(all, s.name)) {
      const p = all.find((x) => x.name === name)!;
      const pd = p.disks?.disk?.find((d) => d.name === target);
      if (!pd || pd.snapshot === 'no') continue;
      if (pd.snapshot !== 'external')
        throw new VirError(
          'OPERATION_UNSUPPORTED',
          'qemu',
          'deleting external snapshot that has internal snapshot as parent not supported',
        );
      break;
    }
    const disk = dom?.devices?.disks?.find((d) => d.target.dev === target);
    const top = disk?.source?.file;
    const chain = top !== undefined ? await chainOf(top, signal) : [];
    const at = chain.indexOf(overlay);
    if (at < 0)
      throw new VirError(
        'OPERATION_FAILED',
        'qemu',
        `disk ${target} is not on the overlay '${overlay}' of snapshot '${s.name}'`,
      );
    if (chain[at + 1] !== base)
      throw new VirError(
        'OPERATION_FAILED',
        'qemu',
        `snapshot VM disk source and parent disk source are not the same for disk ${target}`,
      );
  }
  return { merge, disks };
}

/** `chain` (a `<backingStore>` tree) without the element whose source is `file`. */
function dropFromChain(chain: XmlElement | undefined, file: string): XmlElement | undefined {
  if (!chain) return chain;
  const src = chain.children.find((c) => c.type === 'element' && c.name === 'source') as
    | XmlElement
    | undefined;
  const below = chain.children.find((c) => c.type === 'element' && c.name === 'backingStore') as
    | XmlElement
    | undefined;
  if (src?.attrs.some((a) => (a.name === 'file' || a.name === 'dev') && a.value === file))
    return below ?? { type: 'element', name: 'backingStore', attrs: [], children: [] };
  const rest = dropFromChain(below, file);
  if (rest === below) return chain;
  return { ...chain, children: chain.children.map((c) => (c === below ? rest! : c)) };
}

/**
 * `def` with the merged overlays gone: a disk on one is on its base, a chain
 * holding one skips it. In the domain's own definitions (`ownChain`) a disk
 * on an overlay keeps what it had below it: in the live one the chain found
 * at start, with its numbers (the base's moves up to the disk's `<source
 * index>`), in the persistent one what it named; a snapshot's kept
 * definition takes the snapshot's disk.
 */
export function withoutOverlays(def: DomainDef, merges: readonly Merge[], ownChain = false): DomainDef {
  const next = cloneDef(def);
  const disks = next.devices?.disks ?? [];
  for (const m of merges)
    for (const [i, d] of disks.entries()) {
      if (d.target.dev !== m.target) continue;
      if ((d.source?.file ?? d.source?.dev) === m.overlay)
        disks[i] = (ownChain ? onBacking(d, m) : undefined) ?? cloneDisk(m.baseDisk, d);
      else {
        const chain = dropFromChain(d.backingStore, m.overlay);
        if (chain !== d.backingStore && chain) d.backingStore = chain;
      }
    }
  return next;
}

/** Live disk `d` on the image below its overlay, with the chain below that and the image's number; undefined when its chain does not start with the base. */
const childEl = (el: XmlElement, name: string) => childElements(el, name)[0];

function onBacking(d: DiskDef, m: Merge): DiskDef | undefined {
  const bs = d.backingStore;
  const src = bs ? childEl(bs, 'source') : undefined;
  if (!bs || !src || (getAttr(src, 'file') ?? getAttr(src, 'dev')) !== m.base) return undefined;
  const out = cloneDisk(m.baseDisk, d);
  const below = childEl(bs, 'backingStore');
  if (below) out.backingStore = below;
  else delete out.backingStore;
  const index = getAttr(bs, 'index');
  if (out.source && index !== undefined && /^\d+$/.test(index))
    out.source = { ...out.source, index: Number(index) };
  return out;
}

/** The base disk with what is the domain's own (alias, address) kept from the disk of now. */
function cloneDisk(base: DiskDef, now: DiskDef): DiskDef {
  const out: DiskDef = { ...now };
  for (const k of ['type', 'source', 'driver', 'backingStore'] as const) {
    if (base[k] === undefined) delete out[k];
    else (out as Record<string, unknown>)[k] = base[k];
  }
  return out;
}

/** Puts images that were on `overlay` onto `base` (`qemu-img rebase -u`); the data is the same after a commit. */
async function rebaseStragglers(files: Iterable<string>, m: Merge, signal?: AbortSignal): Promise<void> {
  const run = qemuImgRun(signal);
  for (const f of new Set(files)) {
    if (f === m.overlay || !existsSync(f)) continue;
    const backing = await headerBacking(f, undefined, signal).catch(() => undefined);
    if (backing?.path !== m.overlay) continue;
    const info = await imageInfo(run, f);
    await qemuImg(run, ['rebase', '-u', '-f', info.format, '-F', m.baseFormat, '-b', m.base, f]);
  }
}

/**
 * Does the planned delete: the merges (or removals), then the overlay
 * files. `known` are the image files named anywhere in the snapshots'
 * metadata and the domain's definitions; `inUse` the ones a definition
 * other than the snapshot's own entries names (kept by a removal).
 */
export async function runExternalDelete(
  e: Entry,
  plan: ExternalDeletePlan,
  files: { known: ReadonlySet<string>; inUse: ReadonlySet<string> },
  signal?: AbortSignal,
): Promise<void> {
  if (!plan.merge) {
    // the leaf's overlay went with the revert away from it; its base, as libvirt
    // removes it, when nothing else builds on it
    for (const m of plan.disks)
      for (const f of [m.overlay, m.base]) if (!files.inUse.has(f)) rmSync(f, { force: true });
    return;
  }
  // an abort stops the first merge (a cancelled commit leaves the chain as it
  // was); once one has changed a chain, the rest runs to its end so that the
  // definitions the caller updates describe the images
  let abortable = signal;
  for (const m of plan.disks) {
    if (isActive(e)) {
      const disk = e.live?.devices?.disks?.find((d) => d.target.dev === m.target);
      const active = disk?.source?.file === m.overlay;
      await e.runner!.snapshot.commit(
        diskAlias(e.live!, disk!),
        { top: m.overlay, base: m.base, active },
        abortable,
      );
    } else await qemuImg(qemuImgRun(abortable), ['commit', '-q', '-f', 'qcow2', m.overlay]);
    abortable = undefined;
    await rebaseStragglers(files.known, m);
    rmSync(m.overlay, { force: true });
  }
}

/** The external image files a snapshot's `<disks>` and `<revertDisks>` name. */
function overlayFiles(s: DomainSnapshotDef): string[] {
  return [...(s.disks?.disk ?? []), ...(s.revertDisks?.disk ?? [])]
    .filter((d) => d.snapshot === 'external' && d.source?.file !== undefined)
    .map((d) => d.source!.file!);
}

/** `s` and the definitions it keeps, without the merged overlays. */
function snapshotWithoutOverlays(s: DomainSnapshotDef, merges: readonly Merge[]): DomainSnapshotDef {
  const dom = s.domainDef();
  if (dom) s.domain = withoutOverlays(dom, merges).toElement({ inactive: true, check: false });
  const inactive = s.inactiveDomainDef();
  if (inactive)
    s.inactiveDomain = {
      ...withoutOverlays(inactive, merges).toElement({ inactive: true, check: false }),
      name: 'inactiveDomain',
    };
  return s;
}

/**
 * Deletes external snapshot `s` (see the module comment) and updates what
 * names its overlays: the domain's definitions and the other snapshots'.
 * The caller removes `s`'s metadata and moves its children up.
 */
export async function deleteExternalSnapshot(
  side: DomainListAccess,
  e: Entry,
  store: SnapshotStore,
  s: DomainSnapshotDef,
  signal?: AbortSignal,
): Promise<void> {
  const all = store.list();
  const plan = await planExternalDelete(e, all, s, signal);
  const others = all.filter((x) => x.name !== s.name);
  // what a definition names (a snapshot's base, the domain's chain) or a revert put a disk on
  const inUse = referencedImages(others, [e.config, e.live]);
  for (const o of others)
    for (const d of o.revertDisks?.disk ?? []) if (d.source?.file) inUse.add(d.source.file);
  const known = new Set([...inUse, ...overlayFiles(s), ...others.flatMap(overlayFiles)]);
  for (const f of [...known]) for (const c of await chainOf(f, signal).catch(() => [f])) known.add(c);
  await runExternalDelete(e, plan, { known, inUse }, signal);
  if (!plan.merge) return;
  if (isActive(e) && e.live) commitLive(e, withoutOverlays(e.live, plan.disks, true));
  if (e.config) commitConfig(side, e, withoutOverlays(e.config, plan.disks, true));
  for (const o of others) {
    if (!o.domain && !o.inactiveDomain) continue;
    const before = o.toXML();
    const after = snapshotWithoutOverlays(o, plan.disks);
    if (after.toXML() !== before) store.write(after);
  }
}
