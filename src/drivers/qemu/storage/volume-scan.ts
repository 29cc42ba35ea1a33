/**
 * What a `dir` pool's directory holds, as libvirt's local refresh reads it:
 * each regular file and directory is a volume named after it (sockets,
 * devices and dangling links are skipped), its key and path
 * `<target>/<name>`, its capacity the image's virtual size, its allocation
 * the bytes the file uses on the host, its format the image's own.
 *
 * A qcow2 header is read directly (qcow2-header.ts); a file is read through
 * `qemu-img info` only when its first bytes are another image header
 * qemu-img knows (or a qcow2 header with features that reader leaves to
 * it); anything else is raw (or an ISO 9660 image), sized by `stat`, so a
 * refresh of a thousand files runs no process.
 * Infos are kept per file identity and modification time, so a refresh
 * re-reads only what changed.
 *
 * @module
 */
import { closeSync, openSync, readdirSync, readSync, type Stats, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { StorageVolDef } from '../../../conf/storage/vol-def.js';
import { toVirError } from '../../../errors.js';
import { QCOW2_HEADER_READ, readQcow2Header } from './qcow2-header.js';
import { type ImageInfo, imageInfo, type QemuImgRun } from './qemu-img.js';

/** Header magics qemu-img reads an image's size and chain from (qcow/qcow2, QED, VMDK, VPC, VDI, VHDX). */
const MAGICS: ReadonlyArray<{ at: number; bytes: Buffer }> = [
  { at: 0, bytes: Buffer.from([0x51, 0x46, 0x49, 0xfb]) },
  { at: 0, bytes: Buffer.from('QED\0', 'latin1') },
  { at: 0, bytes: Buffer.from('KDMV', 'latin1') },
  { at: 0, bytes: Buffer.from('conectix', 'latin1') },
  { at: 0, bytes: Buffer.from('vhdxfile', 'latin1') },
  { at: 0x40, bytes: Buffer.from([0x7f, 0x10, 0xda, 0xbe]) },
];
const ISO_AT = 32769;
const ISO_MAGIC = Buffer.from('CD001', 'latin1');

const infoCache = new Map<string, ImageInfo>();
const MAX_CACHE = 100_000;

function readAt(path: string, at: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const n = readSync(fd, buf, 0, length, at);
    return buf.subarray(0, n);
  } catch {
    return Buffer.alloc(0);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** `raw`, `iso`, or `image` (a header qemu-img must read). */
function sniff(path: string, size: number): 'raw' | 'iso' | 'image' {
  const head = readAt(path, 0, 0x44);
  if (
    MAGICS.some(
      (m) =>
        head.length >= m.at + m.bytes.length && head.subarray(m.at, m.at + m.bytes.length).equals(m.bytes),
    )
  )
    return 'image';
  if (size >= ISO_AT + ISO_MAGIC.length && readAt(path, ISO_AT, ISO_MAGIC.length).equals(ISO_MAGIC))
    return 'iso';
  return 'raw';
}

/** A file's image facts: qemu-img's for an image header, `stat`'s otherwise. */
async function fileInfo(run: QemuImgRun, path: string, st: Stats): Promise<ImageInfo> {
  const key = `${st.dev}:${st.ino}:${st.mtimeMs}:${st.ctimeMs}:${st.size}`;
  const cached = infoCache.get(key);
  if (cached) return cached;
  const kind = sniff(path, st.size);
  let info: ImageInfo =
    kind === 'image'
      ? (readQcow2Header(readAt(path, 0, QCOW2_HEADER_READ), BigInt(st.blocks) * 512n) ??
        (await imageInfo(run, path)))
      : { format: kind, virtualSize: BigInt(st.size), actualSize: BigInt(st.blocks) * 512n };
  // a relative backing file is relative to the image's directory (qemu-img's full name)
  const b = info.backing;
  if (b && !b.path.startsWith('/') && !b.path.includes(':'))
    info = { ...info, backing: { ...b, path: join(dirname(path), b.path) } };
  if (infoCache.size >= MAX_CACHE) infoCache.clear();
  infoCache.set(key, info);
  return info;
}

/** The volume definition of the file or directory at `path`, or undefined for anything else. */
export async function readVolume(
  run: QemuImgRun,
  poolTarget: string,
  name: string,
): Promise<StorageVolDef | undefined> {
  const path = join(poolTarget, name);
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return undefined; // gone, or a dangling link: libvirt skips it too
  }
  const def = new StorageVolDef();
  Object.defineProperty(def, 'poolType', { value: 'dir', enumerable: false, writable: true });
  def.name = name;
  def.key = path;
  const allocation = BigInt(st.blocks) * 512n;
  const perms = { mode: st.mode & 0o7777, owner: st.uid, group: st.gid };
  if (st.isDirectory()) {
    def.type = 'dir';
    def.capacity = allocation;
    def.allocation = allocation;
    def.target = { path, format: 'dir', permissions: perms };
    return def;
  }
  if (!st.isFile()) return undefined;
  const info = await fileInfo(run, path, st);
  def.type = 'file';
  def.capacity = info.virtualSize;
  def.allocation = allocation;
  def.target = { path, format: info.format, permissions: perms };
  if (info.clusterSize !== undefined && info.clusterSize > 0n) def.target.clusterSize = info.clusterSize;
  // as libvirt reads a header: only a version 3 qcow2 has a compat level and features
  if (info.format === 'qcow2' && info.compat === '1.1') {
    def.target.compat = '1.1';
    def.target.features = info.lazyRefcounts ? ['lazy_refcounts'] : [];
  }
  if (info.backing) {
    def.backingStore = { path: info.backing.path };
    if (info.backing.format !== undefined) def.backingStore.format = info.backing.format;
  }
  return def;
}

/** Every volume of the directory, sorted by name (libvirt lists in directory order; sorted is stable). */
export async function scanVolumes(run: QemuImgRun, poolTarget: string): Promise<StorageVolDef[]> {
  let names: string[];
  try {
    names = readdirSync(poolTarget);
  } catch (err) {
    throw toVirError(err, 'SYSTEM_ERROR', 'storage', `cannot open directory '${poolTarget}'`);
  }
  names.sort();
  const out: StorageVolDef[] = [];
  // a few qemu-img runs at once: a pool of many images refreshes in bounded time and memory
  const queue = names.slice();
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const v = await readVolume(run, poolTarget, name);
      if (v) out.push(v);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return out.sort((a, b) => (a.name! < b.name! ? -1 : a.name! > b.name! ? 1 : 0));
}
