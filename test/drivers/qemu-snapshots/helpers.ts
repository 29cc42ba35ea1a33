/**
 * What the snapshot tests on real QEMU share: a private qemu:///session
 * connection on temporary roots (its lifecycle events recorded), qcow2
 * and raw images made by qemu-img, a small SeaBIOS guest on one virtio
 * disk, and host-side reads of an image (`qemu-io`, `qemu-img info`).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, expect } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import type { AnyDomainEvent } from '../../../src/driver.js';
import { isVirError, type VirError } from '../../../src/errors.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';

export { qemuProcessesMentioning };

const HAS_TOOLS = (() => {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    execFileSync('qemu-io', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
export const SKIP = !HAS_QEMU
  ? `${QEMU_BINARY} not installed`
  : !HAS_TOOLS
    ? 'qemu-img or qemu-io not installed'
    : '';

const allRoots: TestRoots[] = [];
const conns: Connection[] = [];

afterEach(async () => {
  for (const c of conns.splice(0)) {
    if (c.isClosed) continue;
    for (const d of await c.listDomains({ active: true })) await d.destroy().catch(() => {});
    await c.close();
  }
  for (const r of allRoots) for (const pid of qemuProcessesMentioning(r.path)) process.kill(pid, 'SIGKILL');
});

afterAll(() => {
  for (const r of allRoots) r.remove();
});

export interface Host {
  conn: Connection;
  roots: TestRoots;
  events: string[];
  state: string;
  config: string;
}

export async function host(): Promise<Host> {
  const roots = tempRoots('vk-qsnap-');
  allRoots.push(roots);
  const state = join(roots.path, 'state');
  const config = join(roots.path, 'config');
  const conn = await connect('qemu:///session', {
    driverOptions: {
      cacheDir: null,
      runDir: join(roots.path, 'rundir'),
      stateDir: state,
      configDir: config,
      logDir: join(roots.path, 'log'),
      emulators: [QEMU_BINARY],
    },
  });
  conns.push(conn);
  const events: string[] = [];
  void (async () => {
    for await (const e of conn.events() as AsyncIterable<AnyDomainEvent>)
      if (e.type === 'lifecycle') events.push(`${e.event}/${e.detail}`);
  })();
  return { conn, roots, events, state, config };
}

export function image(h: Host, name: string, format = 'qcow2'): string {
  const dir = join(h.roots.path, 'images');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.${format}`);
  execFileSync('qemu-img', ['create', '-q', '-f', format, path, '8M']);
  return path;
}

let n = 0;
export function guestXml(name: string, disk: string, format = 'qcow2'): string {
  n++;
  const uuid = `d4d4d4d4-0000-4000-8000-${String(process.pid * 100 + n).padStart(12, '0')}`;
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='${format}'/>
      <source file='${disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <memballoon model='none'/>
  </devices>
</domain>`;
}

export async function errorOf(p: Promise<unknown>): Promise<VirError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isVirError(err), String(err)).toBe(true);
  return err as VirError;
}

/** The same check on a shut-off guest's image, with the host's qemu-io. */
export function imageSectorIs(path: string, pattern: number, offset = 0): boolean {
  try {
    const out = execFileSync(
      'qemu-io',
      ['-r', '-f', 'qcow2', '-c', `read -P ${pattern} ${offset} 4k`, path],
      {
        encoding: 'utf8',
      },
    );
    return !out.includes('Pattern verification failed');
  } catch {
    return false;
  }
}

export function imageTags(path: string): string[] {
  const j = JSON.parse(
    execFileSync('qemu-img', ['info', '-U', '--output=json', path], { encoding: 'utf8' }),
  ) as {
    snapshots?: Array<{ name: string }>;
  };
  return (j.snapshots ?? []).map((s) => s.name);
}
