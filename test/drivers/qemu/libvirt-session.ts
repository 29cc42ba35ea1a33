/**
 * A throw-away libvirt session daemon run as `nobody` for cross-checks with
 * the libvirt installed here: nothing system-wide is touched and KVM is not
 * used; the daemon virsh autostarts is stopped through its pid file after.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HAS_QEMU } from './helpers.js';

/** Whether this host can run such a daemon: root (to drop to nobody), virsh, libvirtd, setpriv, QEMU. */
export const CAN_RUN_LIBVIRT_SESSION =
  HAS_QEMU &&
  process.getuid?.() === 0 &&
  spawnSync('sh', ['-c', 'command -v virsh && command -v setpriv && command -v libvirtd'], {
    stdio: 'ignore',
  }).status === 0;

/** One virsh command's exit status and outputs. */
export interface VirshResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `body` with a fresh daemon home; `virsh(args)` runs one virsh command
 * against `qemu:///session` there and returns its standard output,
 * `virshResult(args)` its status and both outputs (for refusals).
 */
export function withLibvirtSession<T>(
  body: (virsh: (args: string[]) => string, home: string, virshResult: (args: string[]) => VirshResult) => T,
): T {
  const home = mkdtempSync(join(tmpdir(), 'vk-libvirt-'));
  chmodSync(home, 0o777);
  const virshResult = (args: string[]): VirshResult =>
    spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        'env',
        `HOME=${home}`,
        `XDG_RUNTIME_DIR=${join(home, 'run')}`,
        'virsh',
        '-c',
        'qemu:///session',
        ...args,
      ],
      { encoding: 'utf8', timeout: 60_000, cwd: home },
    );
  const virsh = (args: string[]) => virshResult(args).stdout;
  try {
    return body(virsh, home, virshResult);
  } finally {
    try {
      const pid = Number(readFileSync(join(home, 'run/libvirt/libvirtd.pid'), 'utf8').trim());
      if (pid > 1) process.kill(pid, 'SIGTERM');
    } catch {}
    rmSync(home, { recursive: true, force: true });
  }
}
