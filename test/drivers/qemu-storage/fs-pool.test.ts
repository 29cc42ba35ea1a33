/**
 * `fs` pools on a real block device: a loop device over a 64 MiB file in a
 * temporary directory, formatted by the pool's build (mkfs, checked with
 * blkid) or by mkfs.ext4 directly, mounted on start and unmounted on stop
 * (checked with findmnt and blkid, never through our own
 * reading), with qcow2 volumes made by qemu-img on the mounted file system.
 * Refusals: a missing device, a file that is not a block device, a device
 * mounted elsewhere, a target holding another mount, the pool types that
 * stay unsupported, build flags that do not apply, and (as nobody, through
 * setpriv) a start or formatting build without root. Every mount, loop
 * device and file made here is removed after each test.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import { VirError } from '../../../src/errors.js';

const QEMU_IMG = existsSync('/usr/bin/qemu-img');
const MKFS_EXT4 = ['/usr/sbin/mkfs.ext4', '/sbin/mkfs.ext4'].find((p) => existsSync(p));
const BLKID = ['/usr/sbin/blkid', '/sbin/blkid'].find((p) => existsSync(p));

/** Why these tests cannot run here, or '' when they can. */
function whyNot(): string {
  if (process.getuid?.() !== 0) return 'not root: mount and losetup need root';
  if (!QEMU_IMG) return 'qemu-img not installed';
  if (!MKFS_EXT4 || !BLKID) return 'mkfs.ext4 or blkid not installed (e2fsprogs, util-linux)';
  try {
    execFileSync('losetup', ['-f'], { stdio: 'pipe' });
  } catch {
    return 'no free loop device can be made (no /dev/loop-control in this container?)';
  }
  return '';
}
const SKIP = whyNot();
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const NO_DROP =
  process.getuid?.() !== 0
    ? 'not root: no unprivileged user to become'
    : !SETPRIV
      ? 'setpriv not installed (util-linux)'
      : '';

let base = '';
let conn: Connection | undefined;
const loops: string[] = [];

/** The mounts as findmnt lists them (it decodes the kernel's escapes, e.g. of a space). */
function mounts(): { source: string; target: string; fstype: string }[] {
  const out = JSON.parse(
    execFileSync('findmnt', ['-J', '-l', '-o', 'SOURCE,TARGET,FSTYPE'], { encoding: 'utf8' }),
  ) as {
    filesystems: { source: string; target: string; fstype: string }[];
  };
  return out.filesystems.map(({ source, target, fstype }) => ({ source, target, fstype }));
}

function mountedOn(target: string) {
  return mounts().filter((m) => m.target === target);
}

/** A new loop device over a fresh 64 MiB file. */
function loopDevice(name: string): string {
  const file = join(base, `${name}.img`);
  writeFileSync(file, '');
  execFileSync('truncate', ['-s', '64M', file]);
  const dev = execFileSync('losetup', ['-f', '--show', file], { encoding: 'utf8' }).trim();
  loops.push(dev);
  return dev;
}

function fsPool(name: string, dev: string, target: string, format = 'ext4'): string {
  return (
    `<pool type='fs'><name>${name}</name><source><device path='${dev}'/>` +
    `<format type='${format}'/></source><target><path>${target}</path></target></pool>`
  );
}

async function open(): Promise<Connection> {
  const r = join(base, 'roots');
  conn = await connect('qemu:///session', {
    driverOptions: {
      cacheDir: null,
      configDir: join(r, 'config'),
      stateDir: join(r, 'state'),
      runDir: join(r, 'run'),
      logDir: join(r, 'log'),
      storagePoolRoots: [base],
    },
  });
  return conn;
}

async function failure(p: Promise<unknown>): Promise<{ code: string; field?: string | undefined } | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof VirError) return { code: err.code, field: err.field };
    throw err;
  }
}

beforeEach(() => {
  if (SKIP && NO_DROP) return;
  base = mkdtempSync(join(tmpdir(), 'vk-fspool-'));
});

afterEach(async () => {
  if (SKIP && NO_DROP) return;
  await conn?.close();
  conn = undefined;
  // deepest first, so nested mounts come off in order
  for (const m of mounts()
    .filter((x) => x.target.startsWith(`${base}/`))
    .reverse())
    execFileSync('umount', [m.target]);
  for (const dev of loops.splice(0)) execFileSync('losetup', ['-d', dev]);
  rmSync(base, { recursive: true, force: true });
});

describe.skipIf(SKIP !== '')(`fs pools on a loop device${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  it('builds (mkfs), mounts on start, keeps qcow2 volumes on the device, unmounts on stop', async () => {
    const dev = loopDevice('a');
    const target = join(base, 'pool-a');
    const c = await open();
    const pool = await c.storagePools.define(fsPool('fsa', dev, target));
    // a build without flags only makes the directory, as libvirt's does: the device stays blank
    await pool.build();
    expect(existsSync(target)).toBe(true);
    expect(() => execFileSync(BLKID!, ['-p', dev], { stdio: 'pipe' })).toThrow();
    await pool.build({ noOverwrite: true });
    expect(execFileSync(BLKID!, ['-p', '-o', 'value', '-s', 'TYPE', dev], { encoding: 'utf8' }).trim()).toBe(
      'ext4',
    );
    // a second build that must not overwrite finds the file system and refuses
    expect(await failure(pool.build({ noOverwrite: true }))).toEqual({
      code: 'STORAGE_POOL_BUILT',
      field: '/pool/source/device/@path',
    });
    expect(mountedOn(target)).toEqual([]);

    await pool.start();
    expect(mountedOn(target)).toEqual([{ source: dev, target, fstype: 'ext4' }]);
    const info = await pool.getInfo();
    const df = execFileSync('df', ['-B1', '--output=size,avail', target], { encoding: 'utf8' })
      .trim()
      .split('\n')[1]!
      .trim()
      .split(/\s+/)
      .map(BigInt);
    expect(info.state).toBe('running');
    expect(info.capacity).toBe(df[0]);
    expect(info.available).toBe(df[1]);

    const vol = await pool.createVolume(
      "<volume><name>disk.qcow2</name><capacity unit='MiB'>16</capacity>" +
        "<target><format type='qcow2'/></target></volume>",
    );
    const path = await vol.getPath();
    expect(path).toBe(join(target, 'disk.qcow2'));
    expect(execFileSync('findmnt', ['-n', '-o', 'SOURCE', '-T', path], { encoding: 'utf8' }).trim()).toBe(
      dev,
    );
    const img = JSON.parse(
      execFileSync('/usr/bin/qemu-img', ['info', '--output=json', path], { encoding: 'utf8' }),
    ) as { format: string; 'virtual-size': number };
    expect(img).toMatchObject({ format: 'qcow2', 'virtual-size': 16 * 1024 * 1024 });

    // a file put there by hand is found by a refresh, as in a dir pool
    execFileSync('/usr/bin/qemu-img', ['create', '-q', '-f', 'raw', join(target, 'raw.img'), '1M']);
    await pool.refresh();
    // ext4's lost+found is a directory volume, as libvirt lists it in an fs pool
    const names = ['disk.qcow2', 'lost+found', 'raw.img'];
    expect((await pool.listVolumes()).map((v) => v.name).sort()).toEqual(names);
    expect((await (await pool.lookupVolume('lost+found')).getInfo()).type).toBe('dir');

    // a file held open keeps the mount busy: the stop fails and the pool runs on, as in libvirt
    const fd = openSync(path, 'r');
    try {
      expect(await failure(pool.destroy())).toMatchObject({ code: 'INTERNAL_ERROR' });
    } finally {
      closeSync(fd);
    }
    expect(await pool.isActive()).toBe(true);
    expect(mountedOn(target).map((m) => m.source)).toEqual([dev]);
    await pool.destroy();
    expect(mountedOn(target)).toEqual([]);
    expect(readdirSync(target)).toEqual([]); // the files are on the device, not the directory
    expect(await pool.isActive()).toBe(false);

    await pool.start();
    expect(mountedOn(target).map((m) => m.source)).toEqual([dev]);
    expect((await pool.listVolumes()).map((v) => v.name).sort()).toEqual(names);
    await pool.destroy();
    await pool.undefine();
    expect(mountedOn(target)).toEqual([]);
    expect(await c.storagePools.list()).toEqual([]);
  });

  it('takes a target already mounted from its device as active; overwrite formats a used device', async () => {
    const dev = loopDevice('b');
    execFileSync(MKFS_EXT4!, ['-q', dev]);
    // a space in the path: the kernel writes it escaped in /proc/self/mounts
    const target = join(base, 'pool b');
    mkdirSync(target);
    execFileSync('mount', [dev, target]);
    writeFileSync(join(target, 'kept.img'), Buffer.alloc(4096));
    const c = await open();
    const pool = await c.storagePools.define(fsPool('fsb', dev, target, 'auto'));
    await pool.start();
    expect(await pool.isActive()).toBe(true);
    expect((await pool.listVolumes()).map((v) => v.name)).toEqual(['kept.img', 'lost+found']);
    expect(mountedOn(target).map((m) => m.source)).toEqual([dev]);
    await pool.destroy();
    expect(mountedOn(target)).toEqual([]);

    // 'auto' names no file system to make
    expect(await failure(pool.build({ overwrite: true }))).toEqual({
      code: 'INVALID_ARG',
      field: '/pool/source/format/@type',
    });
    await pool.undefine();
    const ext2Pool = await c.storagePools.define(fsPool('fsb2', dev, target, 'ext2'));
    await ext2Pool.build({ overwrite: true });
    expect(execFileSync(BLKID!, ['-p', '-o', 'value', '-s', 'TYPE', dev], { encoding: 'utf8' }).trim()).toBe(
      'ext2',
    );
    await ext2Pool.start();
    expect(mountedOn(target)).toEqual([{ source: dev, target, fstype: 'ext2' }]);
    // the old file system and its file are gone: only the new one's lost+found
    expect((await ext2Pool.listVolumes()).map((v) => v.name)).toEqual(['lost+found']);
    await ext2Pool.destroy();
  });

  it('after the last connection: a running pool whose mount is gone is inactive; autostart mounts', async () => {
    const dev = loopDevice('d');
    execFileSync(MKFS_EXT4!, ['-q', dev]);
    const target = join(base, 'pool-d');
    let c = await open();
    let pool = await c.storagePools.define(fsPool('fsd', dev, target));
    await pool.build();
    await pool.start();
    await c.close();
    c = await open();
    pool = await c.storagePools.lookup('fsd');
    expect(await pool.isActive()).toBe(true);
    await c.close();
    // unmounted behind the pool's back: the next table load finds it stopped
    execFileSync('umount', [target]);
    c = await open();
    pool = await c.storagePools.lookup('fsd');
    expect(await pool.isActive()).toBe(false);
    await pool.setAutostart(true);
    await c.close();
    c = await open();
    pool = await c.storagePools.lookup('fsd');
    expect(await pool.isActive()).toBe(true);
    expect(mountedOn(target).map((m) => m.source)).toEqual([dev]);
    // the device moved elsewhere by hand: the pool still stops, and leaves that mount alone
    const moved = join(base, 'moved');
    mkdirSync(moved);
    execFileSync('umount', [target]);
    execFileSync('mount', [dev, moved]);
    await pool.destroy();
    expect(await pool.isActive()).toBe(false);
    expect(mountedOn(moved).map((m) => m.source)).toEqual([dev]);
  });

  it('refuses a missing device, a non-block device, a device mounted elsewhere and a busy target, mounting nothing', async () => {
    const c = await open();
    const sp = c.storagePools;
    const target = join(base, 'pool-c');
    mkdirSync(target);
    const missing = await sp.define(fsPool('missing', join(base, 'no-such-dev'), target));
    expect(await failure(missing.start())).toEqual({
      code: 'INVALID_ARG',
      field: '/pool/source/device/@path',
    });
    await missing.undefine();
    const file = join(base, 'plain-file');
    writeFileSync(file, Buffer.alloc(1024));
    const notBlock = await sp.define(fsPool('notblock', file, target));
    expect(await failure(notBlock.start())).toEqual({
      code: 'INVALID_ARG',
      field: '/pool/source/device/@path',
    });
    await notBlock.undefine();

    const dev = loopDevice('c');
    // a blank device: mount fails, and the pool neither runs nor leaves a mount
    const blank = await sp.define(fsPool('blank', dev, target, 'auto'));
    expect(await failure(blank.start())).toMatchObject({ code: 'INTERNAL_ERROR' });
    expect(await blank.isActive()).toBe(false);
    expect(mountedOn(target)).toEqual([]);
    await blank.undefine();

    execFileSync(MKFS_EXT4!, ['-q', dev]);
    const elsewhere = join(base, 'elsewhere');
    mkdirSync(elsewhere);
    execFileSync('mount', [dev, elsewhere]);
    const busyDev = await sp.define(fsPool('busydev', dev, target));
    expect(await failure(busyDev.start())).toEqual({
      code: 'OPERATION_INVALID',
      field: '/pool/source/device/@path',
    });
    // a device in use is not formatted either
    expect(await failure(busyDev.build({ overwrite: true }))).toMatchObject({ code: 'OPERATION_INVALID' });
    expect(mountedOn(target)).toEqual([]);
    expect(mountedOn(elsewhere).map((m) => m.source)).toEqual([dev]);
    await busyDev.undefine();

    // the pool's target holds another mount (the device is free, mounted on the target from elsewhere)
    execFileSync('umount', [elsewhere]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'vk-fspool-tmp', target]);
    const busyTarget = await sp.define(fsPool('busytarget', dev, target));
    expect(await failure(busyTarget.start())).toEqual({
      code: 'OPERATION_INVALID',
      field: '/pool/target/path',
    });
    expect(mountedOn(target).map((m) => m.fstype)).toEqual(['tmpfs']);
    // one device, one pool (libvirt's source conflict)
    expect(await failure(sp.define(fsPool('twin', dev, join(base, 'twin'))))).toMatchObject({
      code: 'OPERATION_FAILED',
    });
    await busyTarget.undefine();
  });

  it('refuses the pool types that stay unsupported and build flags that do not apply', async () => {
    const c = await open();
    const sp = c.storagePools;
    const dir = join(base, 'x');
    const others = [
      `<pool type='netfs'><name>n</name><source><host name='nfs.example'/><dir path='/export'/></source><target><path>${dir}</path></target></pool>`,
      "<pool type='logical'><name>l</name><source><name>vg</name></source></pool>",
      `<pool type='disk'><name>d</name><source><device path='/dev/sdz'/></source><target><path>${dir}</path></target></pool>`,
      `<pool type='iscsi'><name>i</name><source><host name='iscsi.example'/><device path='iqn.2020-01.example:t'/></source><target><path>${dir}</path></target></pool>`,
    ];
    for (const xml of others)
      expect(await failure(sp.define(xml))).toEqual({ code: 'CONFIG_UNSUPPORTED', field: '/pool/@type' });
    expect(
      await failure(
        sp.define(`<pool type='fs'><name>nodev</name><source/><target><path>${dir}</path></target></pool>`),
      ),
    ).toMatchObject({ code: 'XML_ERROR' });
    expect(await failure(sp.define(fsPool('rel', 'dev/loop0', dir)))).toEqual({
      code: 'XML_ERROR',
      field: '/pool/source/device/@path',
    });
    const plain = await sp.define(
      `<pool type='dir'><name>plain</name><target><path>${dir}</path></target></pool>`,
    );
    // libvirt: a dir pool has no device to format
    expect(await failure(plain.build({ overwrite: true }))).toMatchObject({ code: 'OPERATION_INVALID' });
    expect(await failure(plain.build({ overwrite: true, noOverwrite: true }))).toEqual({
      code: 'INVALID_ARG',
      field: 'overwrite',
    });
    expect(existsSync(dir)).toBe(false);
    await plain.undefine();
  });
});

/** A program run as nobody (uid 65534) on the driver of this tree, printing what its calls end with. */
const UNPRIVILEGED_PROBE = `
import { existsSync } from 'node:fs';
import { connect } from ${JSON.stringify(fileURLToPath(new URL('../../../src/connection.js', import.meta.url)))};
const base = process.argv[2];
const conn = await connect('qemu:///session', { driverOptions: { cacheDir: null, configDir: base + '/c',
  stateDir: base + '/s', runDir: base + '/r', logDir: base + '/l', storagePoolRoots: [base] } });
const p = await conn.storagePools.define("<pool type='fs'><name>nr</name><source><device path='/dev/loop0'/>" +
  "<format type='ext4'/></source><target><path>" + base + "/target</path></target></pool>");
const out = [];
for (const f of [() => p.start(), () => p.build({ overwrite: true })]) {
  try { await f(); out.push('ok'); } catch (e) { out.push(e.code); }
}
out.push(existsSync(base + '/target'));
console.log(JSON.stringify(out));
await conn.close();
`;

describe.skipIf(NO_DROP !== '')(
  `fs pools for an unprivileged user${NO_DROP ? ` (skipped: ${NO_DROP})` : ''}`,
  () => {
    it('refuses start and a formatting build with OPERATION_DENIED, making nothing', () => {
      execFileSync('chmod', ['0777', base]);
      const probe = join(base, 'probe.mjs');
      writeFileSync(probe, UNPRIVILEGED_PROBE);
      const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));
      const out = execFileSync(
        SETPRIV!,
        ['--reuid=65534', '--regid=65534', '--clear-groups', tsx, probe, base],
        { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: base } },
      );
      expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual([
        'OPERATION_DENIED',
        'OPERATION_DENIED',
        false,
      ]);
    });
  },
);
