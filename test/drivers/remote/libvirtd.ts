/**
 * Starts a private libvirtd for the remote driver's tests: its own config,
 * socket directory, pid file and HOME in a temporary directory, a TCP
 * listener on 127.0.0.1, and no authentication. As root it runs as
 * `nobody` so that it is a session daemon that touches nothing of the
 * host's libvirt (/run/libvirt, /etc/libvirt, /var/lib/libvirt).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor as waitUntil } from '../../wait-for.js';

export const LIBVIRTD = ['/usr/sbin/libvirtd', '/usr/bin/libvirtd'].find((p) => existsSync(p));
export const PYTHON_LIBVIRT = (() => {
  const py = ['/usr/bin/python3'].find((p) => existsSync(p));
  if (!py) return undefined;
  return spawnSync(py, ['-c', 'import libvirt'], { stdio: 'ignore' }).status === 0 ? py : undefined;
})();

/** libvirtd's QEMU driver module (Debian's libvirt-daemon-driver-qemu) is installed. */
export const LIBVIRTD_QEMU_DRIVER: boolean = (() => {
  try {
    return readdirSync('/usr/lib').some((d) =>
      existsSync(join('/usr/lib', d, 'libvirt/connection-driver/libvirt_driver_qemu.so')),
    );
  } catch {
    return false;
  }
})();

/**
 * What a differential against libvirtd's QEMU driver lacks on this host,
 * as a skip reason: '' when libvirtd, its QEMU driver, python3-libvirt and
 * the emulator `qemu` are all there.
 */
export function qemuPeerMissing(qemu = '/usr/bin/qemu-system-x86_64'): string {
  if (!LIBVIRTD) return 'libvirtd is not installed';
  if (!LIBVIRTD_QEMU_DRIVER) return "libvirtd's QEMU driver (libvirt-daemon-driver-qemu) is not installed";
  if (!PYTHON_LIBVIRT) return 'python3-libvirt is not installed';
  if (!existsSync(qemu)) return `${qemu} is not installed`;
  return '';
}

export interface Daemon {
  readonly dir: string;
  readonly socket: string;
  readonly port: number;
  readonly pid: number;
  /** The daemon's log file (errors, keepalive debug). */
  readonly log: string;
  /** `test+unix:///default?socket=...` */
  readonly unixUri: string;
  readonly tcpUri: string;
  /** `test+tls://127.0.0.1:PORT/default?pkipath=...` when started with `tls`. */
  readonly tlsUri: string | undefined;
  /** The client's cacert.pem, clientcert.pem and clientkey.pem, when started with `tls`. */
  readonly pkiDir: string | undefined;
  stop(): Promise<void>;
}

/** SIGKILLs every process whose command line names `path` (the daemon's own dir). */
function killProcessesMentioning(path: string): void {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already, or not ours to read
    }
  }
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
  /**
   * Also listen with TLS on 127.0.0.1, with a throw-away CA, server and
   * client certificates made by openssl (the client's in `Daemon.pkiDir`).
   */
  readonly tls?: boolean;
  /** `tls_allowed_dn_list`: client certificate names the daemon accepts (default: any). */
  readonly tlsAllowedDn?: readonly string[];
  /**
   * `host_uuid`: two daemons on one machine stand for two hosts only with their own (libvirt
   * refuses a migration between daemons reporting the same host UUID).
   */
  readonly hostUuid?: string;
}

export const OPENSSL = ['/usr/bin/openssl'].find((p) => existsSync(p));

/** A CA, a server certificate for 127.0.0.1 and a client certificate, in libvirt's file names. */
function makePki(dir: string): { server: string; client: string } {
  const server = join(dir, 'pki-server');
  const client = join(dir, 'pki-client');
  mkdirSync(server);
  mkdirSync(client);
  const ssl = (...args: string[]) => {
    const r = spawnSync(OPENSSL!, args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'cacert.pem',
    '-days',
    '2',
    '-subj',
    '/CN=virtkit test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  const leaf = (name: string, usage: string, out: string, keyOut: string) => {
    writeFileSync(
      join(dir, `${name}.ext`),
      `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=${usage}\n` +
        'subjectAltName=IP:127.0.0.1,DNS:localhost\n',
    );
    ssl('req', ...ec, '-keyout', keyOut, '-out', `${name}.csr`, '-subj', `/CN=virtkit test ${name}`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'cacert.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      out,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  };
  leaf('server', 'serverAuth', join(server, 'servercert.pem'), join(server, 'serverkey.pem'));
  leaf('client', 'clientAuth', join(client, 'clientcert.pem'), join(client, 'clientkey.pem'));
  copyFileSync(join(dir, 'cacert.pem'), join(server, 'cacert.pem'));
  copyFileSync(join(dir, 'cacert.pem'), join(client, 'cacert.pem'));
  for (const f of readdirSync(server)) chmodSync(join(server, f), 0o644);
  return { server, client };
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startLibvirtd(options: DaemonOptions = {}): Promise<Daemon> {
  if (!LIBVIRTD) throw new Error('libvirtd is not installed');
  // short: libvirt 9.0 puts guest channel sockets 60 bytes deep under it, and a
  // virt-install guest's agent channel must still fit a unix socket address
  const dir = mkdtempSync(join(tmpdir(), 'vk-lvd-'));
  const sockDir = join(dir, 'sock');
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : 0;
  const pki = options.tls ? makePki(dir) : undefined;
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
      ...(pki
        ? [
            'listen_tls = 1',
            `tls_port = "${tlsPort}"`,
            'auth_tls = "none"',
            `key_file = "${join(pki.server, 'serverkey.pem')}"`,
            `cert_file = "${join(pki.server, 'servercert.pem')}"`,
            `ca_file = "${join(pki.server, 'cacert.pem')}"`,
            ...(options.tlsAllowedDn
              ? [`tls_allowed_dn_list = [${options.tlsAllowedDn.map((d) => JSON.stringify(d)).join(', ')}]`]
              : []),
          ]
        : ['listen_tls = 0']),
      `tcp_port = "${port}"`,
      ...(options.hostUuid ? [`host_uuid = "${options.hostUuid}"`] : []),
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
  // a test process that dies without stop() must not leave its daemon behind
  const killOnExit = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      process.off('exit', killOnExit);
      resolve();
    }),
  );
  try {
    await waitFor(() => existsSync(socket), child, log, 20_000);
    // the TLS listener comes up after the unix socket
    if (tlsPort) {
      await waitUntil(() => portOpen(tlsPort), {
        what: `TLS listener on port ${tlsPort}`,
        everyMs: 50,
        seen: () => readLog(log),
      });
    }
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
    log,
    unixUri: `test+unix:///default?socket=${socket}`,
    tcpUri: `test+tcp://127.0.0.1:${port}/default`,
    tlsUri: pki ? `test+tls://127.0.0.1:${tlsPort}/default?pkipath=${pki.client}` : undefined,
    pkiDir: pki?.client,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      // a session daemon leaves its guests running when it exits (a test that failed mid-way did
      // not destroy them): they would hold their images' locks for the next test
      killProcessesMentioning(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
