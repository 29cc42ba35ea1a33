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

const base = mkdtempSync(join(tmpdir(), 'vk-qstore-'));
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
