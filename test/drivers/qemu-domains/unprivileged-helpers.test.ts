/**
 * What qemu:///session does for a user without root, with real processes:
 * the driver runs in a child Node process as `nobody` (setpriv), so the
 * helpers and QEMU really are unprivileged. A virtiofs share's daemon runs
 * in a user namespace (the C daemon of QEMU 7.2 cannot run unprivileged
 * otherwise). Needs root to become `nobody`; skipped visibly otherwise.
 */
import { execFile } from 'node:child_process';
import {
  chownSync,
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
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findVirtiofsd, virtiofsdFeatures } from '../../../src/drivers/qemu/lifecycle/virtiofsd.js';
import { C_VIRTIOFSD_PID_DIR } from '../../../src/drivers/qemu/lifecycle/virtiofsd-session.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE } from '../qemu-lifecycle/helpers.js';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const NOBODY = (() => {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('nobody:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  return uid && gid ? { uid: Number(uid), gid: Number(gid) } : undefined;
})();
const AS_NOBODY_NOTE =
  process.getuid?.() !== 0
    ? ' (skipped: becoming nobody needs root)'
    : !SETPRIV
      ? ' (skipped: setpriv is not installed)'
      : !NOBODY
        ? ' (skipped: no nobody user)'
        : '';

interface ChildResult {
  ok: boolean;
  uid?: number;
  state?: { state: string; reason: string };
  processes?: string[][];
  liveXml?: string;
  error?: { code: string; field?: string; message: string };
}

/** Runs session-guest-child.ts as nobody on `root` and returns its report. */
function startAsNobody(
  root: string,
  xml: string,
  driverOptions: Record<string, unknown> = {},
): Promise<ChildResult> {
  const script = join(import.meta.dirname, 'session-guest-child.ts');
  const input = JSON.stringify({ root, xml, emulator: QEMU_BINARY, driverOptions });
  return new Promise((resolve, reject) => {
    execFile(
      SETPRIV as string,
      [
        `--reuid=${NOBODY?.uid}`,
        `--regid=${NOBODY?.gid}`,
        '--clear-groups',
        '--',
        'env',
        `HOME=${root}`,
        'PATH=/usr/bin:/bin',
        process.execPath,
        '--import',
        'tsx',
        script,
        input,
      ],
      { timeout: 90_000, cwd: join(import.meta.dirname, '../../..') },
      (err, stdout, stderr) => {
        const line = String(stdout).trim().split('\n').at(-1) ?? '';
        try {
          resolve(JSON.parse(line) as ChildResult);
        } catch {
          reject(new Error(`child failed: ${err?.message ?? ''} ${String(stderr).slice(-2000)}`));
        }
      },
    );
  });
}

/** A temporary root the nobody user owns. */
function nobodyRoot(prefix: string): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  chownSync(root, NOBODY?.uid ?? 65534, NOBODY?.gid ?? 65534);
  return root;
}

function processesMentioning(marker: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return false;
        return readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const VIRTIOFSD = findVirtiofsd(['/usr/share/qemu/vhost-user', '/etc/qemu/vhost-user']);
const FEATURES = VIRTIOFSD ? await virtiofsdFeatures(VIRTIOFSD) : undefined;
const FS_NOTE = VIRTIOFSD ? '' : " (skipped: no vhost-user descriptor of type 'fs')";

let root: string;
beforeEach(() => {
  root = nobodyRoot('vk-unpriv-');
});
afterEach(() => {
  for (const pid of processesMentioning(root)) process.kill(pid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

const guest = (name: string, devices: string, extra = '') => `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>${extra}
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator>${devices}</devices>
</domain>`;

describe.skipIf(!HAS_QEMU || AS_NOBODY_NOTE !== '' || FS_NOTE !== '')(
  `a virtiofs share started by an unprivileged user${QEMU_NOTE}${AS_NOBODY_NOTE}${FS_NOTE}`,
  () => {
    const C_DAEMON_BLOCKED =
      FEATURES?.separateOptions === false && !existsSync(C_VIRTIOFSD_PID_DIR)
        ? `${C_VIRTIOFSD_PID_DIR} does not exist`
        : undefined;
    it(`QEMU realizes vhost-user-fs against a daemon running as the user${C_DAEMON_BLOCKED ? ' (refused here: the C daemon has no pid-file directory to bind over)' : ''}`, async () => {
      const share = join(root, 'share');
      mkdirSync(share);
      writeFileSync(join(share, 'hello.txt'), 'hi\n');
      chownSync(share, NOBODY?.uid ?? 65534, NOBODY?.gid ?? 65534);
      const r = await startAsNobody(
        root,
        guest(
          'vfsu',
          `<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/><source dir='${share}'/><target dir='tag0'/></filesystem>`,
          "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>",
        ),
      );
      expect(r.uid).toBe(NOBODY?.uid);
      if (C_DAEMON_BLOCKED) {
        expect(r.error).toMatchObject({
          code: 'CONFIG_UNSUPPORTED',
          field: '/domain/devices/filesystem[1]/driver/@type',
        });
        return;
      }
      // a paused start means QEMU finished the vhost-user handshake while realizing vhost-user-fs-pci
      expect(r.error).toBeUndefined();
      expect(r.state).toEqual({ state: 'paused', reason: 'user' });
      const daemon = r.processes?.find((p) => p[0] === VIRTIOFSD);
      expect(daemon).toBeDefined();
      if (FEATURES?.separateOptions) expect(daemon).toContain(`--uid-map=:0:${NOBODY?.uid}:1:`);
      else expect(daemon).toContain(`source=${share}`);
      // nothing of the guest is left: helpers stopped with QEMU, runtime files gone
      expect(processesMentioning(root)).toEqual([]);
      expect(readdirSync(join(root, 'state', 'qemu')).filter((f) => f.startsWith('helpers-'))).toEqual([]);
    });
  },
);
