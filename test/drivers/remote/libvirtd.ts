/**
 * Starts a private libvirtd for the remote driver's tests: its own config,
 * socket directory, pid file and HOME in a temporary directory, a TCP
 * listener on 127.0.0.1, and no authentication. As root it runs as
 * `nobody` so that it is a session daemon that touches nothing of the
 * host's libvirt (/run/libvirt, /etc/libvirt, /var/lib/libvirt).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LIBVIRTD = ['/usr/sbin/libvirtd', '/usr/bin/libvirtd'].find((p) => existsSync(p));
export const PYTHON_LIBVIRT = (() => {
  const py = ['/usr/bin/python3'].find((p) => existsSync(p));
  if (!py) return undefined;
  return spawnSync(py, ['-c', 'import libvirt'], { stdio: 'ignore' }).status === 0 ? py : undefined;
})();

export interface Daemon {
  readonly dir: string;
  readonly socket: string;
  readonly port: number;
  readonly pid: number;
  /** `test+unix:///default?socket=...` */
  readonly unixUri: string;
  readonly tcpUri: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => boolean, child: ChildProcess, log: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (child.exitCode !== null) throw new Error(`libvirtd exited with ${child.exitCode}: ${readLog(log)}`);
    if (Date.now() > end) throw new Error(`libvirtd did not come up in ${ms} ms: ${readLog(log)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

export interface DaemonOptions {
  /** `auth_unix_rw` of the daemon's config: `none` (default), `polkit` or `sasl`. */
  readonly authUnixRw?: 'none' | 'polkit' | 'sasl';
}

export async function startLibvirtd(options: DaemonOptions = {}): Promise<Daemon> {
  if (!LIBVIRTD) throw new Error('libvirtd is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-libvirtd-'));
  const sockDir = join(dir, 'sock');
  const port = await freePort();
  const conf = join(dir, 'libvirtd.conf');
  writeFileSync(
    conf,
    [
      `unix_sock_dir = "${sockDir}"`,
      'unix_sock_rw_perms = "0777"',
      'unix_sock_ro_perms = "0777"',
      `auth_unix_rw = "${options.authUnixRw ?? 'none'}"`,
      'auth_unix_ro = "none"',
      'listen_tcp = 1',
      'listen_tls = 0',
      `tcp_port = "${port}"`,
      'listen_addr = "127.0.0.1"',
      'auth_tcp = "none"',
      // a quiet log: errors of unrelated drivers (no dnsmasq, no dbus) are expected here
      'log_outputs = "1:stderr"',
      'log_filters = "1:rpc.keepalive 4:*"',
      '',
    ].join('\n'),
  );
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  for (const sub of ['sock', 'run', 'cfg', 'cache', 'data']) {
    const p = join(dir, sub);
    spawnSync('mkdir', ['-p', p]);
    if (root) chownSync(p, 65534, 65534);
  }
  chmodSync(dir, 0o755);
  if (root) chownSync(dir, 65534, 65534);
  const pidFile = join(dir, 'libvirtd.pid');
  const log = join(dir, 'libvirtd.log');
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dir,
    XDG_RUNTIME_DIR: join(dir, 'run'),
    XDG_CONFIG_HOME: join(dir, 'cfg'),
    XDG_CACHE_HOME: join(dir, 'cache'),
    XDG_DATA_HOME: join(dir, 'data'),
  };
  const args = ['--listen', '--config', conf, '--pid-file', pidFile];
  const cmd = root ? 'setpriv' : LIBVIRTD;
  const argv = root ? ['--reuid=65534', '--regid=65534', '--clear-groups', LIBVIRTD, ...args] : args;
  const { openSync, closeSync } = await import('node:fs');
  const logFd = openSync(log, 'a');
  const child = spawn(cmd, argv, { env, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const socket = join(sockDir, 'libvirt-sock');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitFor(() => existsSync(socket), child, log, 20_000);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const pid = child.pid ?? 0;
  return {
    dir,
    socket,
    port,
    pid,
    unixUri: `test+unix:///default?socket=${socket}`,
    tcpUri: `test+tcp://127.0.0.1:${port}/default`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
