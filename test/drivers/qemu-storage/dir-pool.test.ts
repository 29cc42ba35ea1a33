/**
 * qemu:///session `dir` pools and volumes through the public API, on
 * temporary roots, with real qemu-img: the state machine and error codes
 * step by step against libvirt's own storage driver (storage:///session of
 * a private libvirtd, through python3-libvirt, on a directory of its own);
 * the volume XML of qcow2 images with backing stores as libvirt reads the
 * same files; bad input refused with nothing left behind; state that
 * survives the last connection.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import { VirError } from '../../../src/errors.js';
import { DIR_POOL_PY, dirPoolSteps } from '../../objects-api/daemon-scenarios.js';
import {
  compare,
  HAVE_PYTHON_LIBVIRT,
  type Outcome,
  runLibvirt,
  runOurs,
} from '../../objects-api/py-steps.js';
import { type Daemon, LIBVIRTD, startLibvirtd } from '../remote/libvirtd.js';
import { VOLUME_PY, volumeSteps } from './volume-scenario.js';

const QEMU_IMG = ['/usr/bin/qemu-img'].find((p) => existsSync(p));
const NO_IMG = QEMU_IMG ? '' : ' (skipped: qemu-img not installed; Debian: qemu-utils)';
const NO_PEER =
  LIBVIRTD && HAVE_PYTHON_LIBVIRT ? '' : ' (skipped: libvirtd or python3-libvirt not installed)';

// made in beforeAll: a file whose tests are all skipped runs no hook and leaves nothing
let base = '';
let daemon: Daemon | undefined;
let n = 0;

function roots(name = `r${++n}`) {
  const r = join(base, name);
  return {
    cacheDir: null,
    configDir: join(r, 'config'),
    stateDir: join(r, 'state'),
    runDir: join(r, 'run'),
    logDir: join(r, 'log'),
    // the pools of these tests live in the temporary directory, outside the session's own places
    storagePoolRoots: [base],
  };
}

async function open(opts = roots()): Promise<Connection> {
  return connect('qemu:///session', { driverOptions: opts });
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof VirError) return err.code;
    throw err;
  }
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'vk-qstore-'));
  // the daemon may run as nobody: the directories it makes are under this one
  execFileSync('chmod', ['0777', base]);
  if (LIBVIRTD && HAVE_PYTHON_LIBVIRT) daemon = await startLibvirtd();
}, 30_000);

afterAll(async () => {
  await daemon?.stop();
  rmSync(base, { recursive: true, force: true });
});

describe.skipIf(!QEMU_IMG || NO_PEER !== '')(
  `dir pools beside libvirt's storage driver${NO_IMG}${NO_PEER}`,
  () => {
    it('walks the same states with the same outcomes as libvirt (build, start, volumes, resize, wipe, clone)', async () => {
      const pyDir = join(base, 'py-pool');
      const ourDir = join(base, 'our-pool');
      // the daemon may run as nobody: its directory's parent must be open to it
      execFileSync('chmod', ['0777', base]);
      const theirs = runLibvirt(`storage+unix:///session?socket=${daemon!.socket}`, DIR_POOL_PY, [pyDir]);
      const conn = await open();
      const ours = await runOurs(dirPoolSteps(conn, ourDir));
      await conn.close();
      const norm = (os: Outcome[], d: string) =>
        JSON.parse(JSON.stringify(os).replaceAll(d, '<dir>')) as Outcome[];
      // a name with '/' is refused by the volume parser (XML_ERROR, as libvirt 11's parser does);
      // libvirt 9.0's storage driver refuses it after parsing, with OPERATION_INVALID
      compare(norm(ours, ourDir), norm(theirs, pyDir), {
        slash: { ours: 'XML_ERROR', theirs: 'OPERATION_INVALID' },
      });
      expect(ours.find((o) => o.step === 'resized')).toEqual({
        step: 'resized',
        ok: true,
        value: ['file', 20 * 1024 * 1024],
      });
    });

    it('volumes as libvirt makes them: qcow2 over a backing file, compat and features, copies, resizes, bad sizes', async () => {
      const pyDir = join(base, 'py-vols');
      const ourDir = join(base, 'our-vols');
      mkdirSync(pyDir, { mode: 0o777 });
      execFileSync('chmod', ['0777', pyDir]);
      mkdirSync(ourDir);
      const theirs = runLibvirt(`storage+unix:///session?socket=${daemon!.socket}`, VOLUME_PY, [pyDir]);
      const conn = await open();
      const ours = await runOurs(volumeSteps(conn, ourDir));
      await conn.close();
      const norm = (os: Outcome[], d: string) =>
        JSON.parse(JSON.stringify(os).replaceAll(d, '<dir>')) as Outcome[];
      compare(norm(ours, ourDir), norm(theirs, pyDir));
      // the chain is real: qemu-img sees the overlay's backing file
      const info = JSON.parse(
        execFileSync(QEMU_IMG!, ['info', '--output=json', join(ourDir, 'over.qcow2')], { encoding: 'utf8' }),
      );
      expect(info['backing-filename']).toBe(join(ourDir, 'base.img'));
      expect(info['virtual-size']).toBe(20 * 1024 * 1024);
    });
  },
);

/** Every file under `dir`, relative, sorted: what a refused call must leave as it was. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe.skipIf(!QEMU_IMG)(`dir pools: bad input, streams, state across connections${NO_IMG}`, () => {
  it('refuses bad pool paths, volume names and sizes with typed errors, leaving no file behind', async () => {
    const r = roots();
    const conn = await open(r);
    const dir = join(base, 'bad-pool');
    const sp = conn.storagePools;
    const pool = (path: string, name = 'bad') =>
      `<pool type='dir'><name>${name}</name><target><path>${path}</path></target></pool>`;
    expect(await code(sp.define(pool(`${dir}/../escape`)))).toBe('XML_ERROR');
    expect(await code(sp.define(pool('relative/dir')))).toBe('XML_ERROR');
    expect(await code(sp.define(pool(`${dir}/./x`)))).toBe('XML_ERROR');
    expect(
      await code(sp.define("<pool type='logical'><name>lv</name><source><name>vg</name></source></pool>")),
    ).toBe('CONFIG_UNSUPPORTED');
    expect(tree(r.configDir)).toEqual([]);
    mkdirSync(dir);
    const p = await sp.create(pool(`${dir}//`));
    // libvirt's sanitising of the path: no doubled or trailing slash
    expect(await p.getXML()).toContain(`<path>${dir}</path>`);
    const before = tree(dir);
    const vol = (name: string, cap: string, fmt = 'raw') =>
      `<volume><name>${name}</name><capacity>${cap}</capacity><target><format type='${fmt}'/></target></volume>`;
    expect(await code(p.createVolume(vol('a/b', '1024')))).toBe('XML_ERROR');
    expect(await code(p.createVolume(vol('..', '1024')))).toBe('XML_ERROR');
    expect(await code(p.createVolume(vol('neg', '-1')))).toBe('XML_ERROR');
    expect(await code(p.createVolume(vol('huge', '18446744073709551616')))).toBe('XML_ERROR');
    expect(await code(p.createVolume(vol('big', '9223372036854775807', 'qcow2')))).toBe('INTERNAL_ERROR');
    expect(await code(p.createVolume(vol('iso', '1024', 'iso')))).toBe('CONFIG_UNSUPPORTED');
    const enc = vol('enc', '1024', 'qcow2').replace(
      '</target>',
      "<encryption format='luks'><secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80f80'/></encryption></target>",
    );
    expect(await code(p.createVolume(enc))).toBe('CONFIG_UNSUPPORTED');
    // a file that exists already is not replaced
    writeFileSync(join(dir, 'outside.img'), 'keep me');
    expect(await code(p.createVolume(vol('outside.img', '1024')))).toBe('STORAGE_VOL_EXIST');
    expect(readFileSync(join(dir, 'outside.img'), 'utf8')).toBe('keep me');
    expect(tree(dir)).toEqual([...before, 'outside.img'].sort());
    expect((await p.listVolumes()).map((v) => v.name)).toEqual([]);
    await p.refresh();
    expect((await p.listVolumes()).map((v) => v.name)).toEqual(['outside.img']);
    await p.destroy();
    expect(await code(sp.lookup('bad'))).toBe('NO_STORAGE_POOL');
    expect(tree(r.configDir)).toEqual([]);
    await conn.close();
  });

  it("sends libvirt's storage driver events: defined, created (build), started, refreshed, stopped, undefined", async () => {
    const conn = await open();
    const seen: string[] = [];
    const stream = conn.storagePools.events();
    const pump = (async () => {
      for await (const e of stream) seen.push(`${e.pool.name}:${e.event}`);
    })();
    const dir = join(base, 'ev-pool');
    const p = await conn.storagePools.define(
      `<pool type='dir'><name>ev</name><target><path>${dir}</path></target></pool>`,
    );
    await p.build();
    await p.start();
    await p.refresh();
    await p.destroy();
    await p.undefine();
    await new Promise((r) => setTimeout(r, 20));
    stream.end();
    await pump;
    expect(seen).toEqual([
      'ev:defined',
      'ev:created',
      'ev:started',
      'ev:refreshed',
      'ev:stopped',
      'ev:undefined',
    ]);
    await conn.close();
  });

  it('uploads and downloads bytes as streams, ranges included', async () => {
    const conn = await open();
    const dir = join(base, 'stream-pool');
    mkdirSync(dir);
    const p = await conn.storagePools.create(
      `<pool type='dir'><name>st</name><target><path>${dir}</path></target></pool>`,
    );
    const v = await p.createVolume("<volume><name>d.img</name><capacity unit='K'>64</capacity></volume>");
    const data = Buffer.alloc(64 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    await pipeline(Readable.from([data]), await v.upload());
    expect(
      createHash('sha256')
        .update(readFileSync(join(dir, 'd.img')))
        .digest('hex'),
    ).toBe(createHash('sha256').update(data).digest('hex'));
    const chunks: Buffer[] = [];
    for await (const c of (await v.download({ offset: 100, length: 1000 })) as AsyncIterable<Buffer>)
      chunks.push(c);
    expect(Buffer.concat(chunks)).toEqual(data.subarray(100, 1100));
    // more than the range allows is an error, not a write past it
    const w = await v.upload({ offset: 0, length: 10 });
    await expect(pipeline(Readable.from([Buffer.alloc(11)]), w)).rejects.toMatchObject({
      code: 'INVALID_ARG',
    });
    await p.destroy();
    await conn.close();
  });

  it('keeps definitions, running pools and autostart across connections, as the daemon would across restarts', async () => {
    const r = roots();
    const dir = join(base, 'kept-pool');
    let conn = await open(r);
    const p = await conn.storagePools.define(
      `<pool type='dir'><name>kept</name><target><path>${dir}</path></target></pool>`,
    );
    await p.build();
    await p.start();
    await p.setAutostart(true);
    await p.createVolume(
      "<volume><name>k.qcow2</name><capacity unit='M'>1</capacity><target><format type='qcow2'/></target></volume>",
    );
    const uuid = p.uuid;
    await conn.close();
    expect(existsSync(join(r.configDir, 'storage', 'kept.xml'))).toBe(true);
    expect(existsSync(join(r.runDir, 'storage', 'kept.xml'))).toBe(true);
    conn = await open(r);
    const again = await conn.storagePools.lookup('kept');
    expect([again.uuid, await again.isActive(), await again.getAutostart()]).toEqual([uuid, true, true]);
    expect((await again.listVolumes()).map((v) => v.name)).toEqual(['k.qcow2']);
    await again.destroy();
    await conn.close();
    // an autostart pool that does not run is started when the roots are opened again
    conn = await open(r);
    expect(await (await conn.storagePools.lookup('kept')).isActive()).toBe(true);
    const k = await conn.storagePools.lookup('kept');
    await (await k.lookupVolume('k.qcow2')).delete();
    await k.destroy();
    await k.undefine();
    expect(tree(join(r.configDir, 'storage'))).toEqual(['autostart']);
    await conn.close();
  });
});
