/**
 * What the snapshot tests on real QEMU share: a private qemu:///session
 * connection on temporary roots (its lifecycle events recorded; the
 * hosts and `errorOf` of `real-guest.ts`, taken down after each test), qcow2
 * and raw images made by qemu-img, a small SeaBIOS guest on one virtio
 * disk, and host-side reads of an image (`qemu-io`, `qemu-img info`).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HAS_QEMU, QEMU_BINARY, qemuProcessesMentioning } from '../qemu-lifecycle/helpers.js';
import { type EventHost, eventHostsEachTest } from '../real-guest.js';

export { errorOf } from '../real-guest.js';
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

const hosts = eventHostsEachTest();

/** A private qemu:///session connection with its events recorded (`real-guest.ts`), and its config root. */
export interface Host extends EventHost {
  readonly config: string;
}

export async function host(): Promise<Host> {
  const h = await hosts.host('vk-qsnap-');
  return { ...h, config: join(h.roots.path, 'config') };
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
