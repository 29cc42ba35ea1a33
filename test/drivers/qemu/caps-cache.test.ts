import { existsSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QemuCapsCache, writeAtomically } from '../../../src/drivers/qemu/probe/caps-cache.js';
import { QEMU_CAPS_FORMAT } from '../../../src/drivers/qemu/probe/qemu-caps.js';
import { writeQemuWrapper } from './fake-qemu.js';
import { childPids, HAS_QEMU, QEMU_BINARY, QEMU_NOTE, tempDir } from './helpers.js';

const childrenBefore = new Set(childPids());
afterAll(() => {
  // every QEMU (and fake QEMU) a test started has been reaped
  expect(childPids().filter((p) => !childrenBefore.has(p))).toEqual([]);
});

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => {
  dir.remove();
});

// KVM off keeps these probes to one process; KVM itself is covered by the probe tests.
const noKvm = async () => false;

describe.skipIf(!HAS_QEMU)(`QEMU caps cache${QEMU_NOTE}`, () => {
  it('probes once, then answers from memory, then from disk in a new cache', async () => {
    const bin = writeQemuWrapper(dir.path, QEMU_BINARY);
    const cacheDir = join(dir.path, 'cache');
    const cache = new QemuCapsCache({ dir: cacheDir, kvm: noKvm });
    const first = await cache.get(bin);
    expect(first.source).toBe('probe');
    expect((await cache.get(bin)).source).toBe('memory');
    const file = cache.fileFor(bin) as string;
    const onDisk = JSON.parse(readFileSync(file, 'utf8'));
    expect(onDisk.caps.format).toBe(QEMU_CAPS_FORMAT);
    expect(onDisk.identity.binary).toBe(bin);
    const again = new QemuCapsCache({ dir: cacheDir, kvm: noKvm });
    const fromDisk = await again.get(bin);
    expect(fromDisk.source).toBe('disk');
    expect(fromDisk.caps).toEqual(first.caps);
    // no temp files left beside the entry
    expect(readdirSync(cacheDir)).toEqual([file.slice(cacheDir.length + 1)]);
  });

  it('shares one probe between concurrent callers', async () => {
    const bin = writeQemuWrapper(dir.path, QEMU_BINARY);
    const cache = new QemuCapsCache({ dir: null, kvm: noKvm });
    const [a, b] = await Promise.all([cache.get(bin), cache.get(bin)]);
    expect(a.caps).toBe(b.caps);
  });

  it('probes again when the binary changes (mtime), when KVM availability changes, or when the format differs', async () => {
    const bin = writeQemuWrapper(dir.path, QEMU_BINARY);
    const cacheDir = join(dir.path, 'cache');
    let kvm = false;
    const cache = new QemuCapsCache({ dir: cacheDir, kvm: async () => kvm });
    expect((await cache.get(bin)).source).toBe('probe');
    const later = new Date(Date.now() + 5000);
    utimesSync(bin, later, later);
    expect((await cache.get(bin)).source).toBe('probe');
    expect((await cache.get(bin)).source).toBe('memory');

    // KVM availability is part of the identity (checked at most once a second)
    const fresh = new QemuCapsCache({ dir: cacheDir, kvm: async () => kvm });
    expect((await fresh.get(bin)).source).toBe('disk');
    kvm = true;
    const withKvm = new QemuCapsCache({ dir: cacheDir, kvm: async () => kvm });
    expect((await withKvm.identity(bin)).kvm).toBe(true);
    expect((await withKvm.get(bin)).source).toBe('probe');

    // an entry written by another cache format is ignored
    const file = cache.fileFor(bin) as string;
    const entry = JSON.parse(readFileSync(file, 'utf8'));
    entry.caps.format = QEMU_CAPS_FORMAT + 100;
    writeFileSync(file, JSON.stringify(entry));
    kvm = false;
    const third = new QemuCapsCache({ dir: cacheDir, kvm: noKvm });
    expect((await third.get(bin)).source).toBe('probe');
    expect(JSON.parse(readFileSync(file, 'utf8')).caps.format).toBe(QEMU_CAPS_FORMAT);
  });

  it('probes again after a kernel change, and when the binary is replaced (new inode)', async () => {
    const bin = writeQemuWrapper(dir.path, QEMU_BINARY);
    const cacheDir = join(dir.path, 'cache');
    const cache = new QemuCapsCache({ dir: cacheDir, kvm: noKvm });
    await cache.get(bin);
    const file = cache.fileFor(bin) as string;
    const entry = JSON.parse(readFileSync(file, 'utf8'));
    entry.identity.kernel = 'some-other-kernel';
    writeFileSync(file, JSON.stringify(entry));
    expect((await new QemuCapsCache({ dir: cacheDir, kvm: noKvm }).get(bin)).source).toBe('probe');
    expect((await new QemuCapsCache({ dir: cacheDir, kvm: noKvm }).get(bin)).source).toBe('disk');
    // a package upgrade replaces the file: same path, new inode
    const before = (await cache.identity(bin)).ino;
    rmSync(bin);
    writeQemuWrapper(dir.path, QEMU_BINARY);
    const id = await cache.identity(bin);
    if (id.ino !== before)
      expect((await new QemuCapsCache({ dir: cacheDir, kvm: noKvm }).get(bin)).source).toBe('probe');
  });

  it('ignores a corrupt cache file and rewrites it', async () => {
    const bin = writeQemuWrapper(dir.path, QEMU_BINARY);
    const cacheDir = join(dir.path, 'cache');
    const cache = new QemuCapsCache({ dir: cacheDir, kvm: noKvm });
    await cache.get(bin);
    const file = cache.fileFor(bin) as string;
    writeFileSync(file, '{"identity": {"binary": "trunc');
    const again = new QemuCapsCache({ dir: cacheDir, kvm: noKvm });
    expect((await again.get(bin)).source).toBe('probe');
    expect(() => JSON.parse(readFileSync(file, 'utf8'))).not.toThrow();
  });

  it('fails with WRITE_FAILED when the cache directory cannot be created, leaving no temp file', async () => {
    const bin = writeQemuWrapper(dir.path, QEMU_BINARY);
    const blocker = join(dir.path, 'not-a-dir');
    writeFileSync(blocker, 'x');
    const cache = new QemuCapsCache({ dir: join(blocker, 'cache'), kvm: noKvm });
    await expect(cache.get(bin)).rejects.toMatchObject({ code: 'WRITE_FAILED', domain: 'qemu' });
  });
});

describe('cache bad input', () => {
  it('a missing binary is NO_SUPPORT before any probe', async () => {
    const cache = new QemuCapsCache({ dir: null, kvm: noKvm });
    await expect(cache.get(join(dir.path, 'missing'))).rejects.toMatchObject({ code: 'NO_SUPPORT' });
  });

  it('a directory is not a binary', async () => {
    const cache = new QemuCapsCache({ dir: null, kvm: noKvm });
    await expect(cache.get(dir.path)).rejects.toMatchObject({ code: 'NO_SUPPORT' });
  });

  it('atomic writes replace content whole and clean up after a failure', async () => {
    const file = join(dir.path, 'sub', 'f.json');
    await writeAtomically(file, 'one');
    await writeAtomically(file, 'two');
    expect(readFileSync(file, 'utf8')).toBe('two');
    expect(readdirSync(join(dir.path, 'sub'))).toEqual(['f.json']);
    // renaming onto a directory fails: the temp file must not stay behind
    const target = join(dir.path, 'sub', 'adir');
    await writeAtomically(join(target, 'x'), 'x');
    await expect(writeAtomically(target, 'y')).rejects.toMatchObject({ code: 'WRITE_FAILED' });
    expect(readdirSync(join(dir.path, 'sub')).sort()).toEqual(['adir', 'f.json']);
    expect(existsSync(join(target, 'x'))).toBe(true);
  });
});
