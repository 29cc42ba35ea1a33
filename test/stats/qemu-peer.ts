/**
 * The set-up the statistics differentials against libvirt's QEMU driver
 * share: a private libvirtd whose directory (readable by its QEMU, which
 * runs as the daemon's user) holds both sides' images, python3-libvirt
 * scripts on its `qemu+unix:///session`, and virtkit QEMU connections whose
 * roots lie in the same directory. Call {@link qemuStatsPeer} in the
 * describe's body, before the file's own `beforeAll` (hooks run in the
 * order they are registered); everything is taken down after the file.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type Connection, connect } from '../../src/index.js';
import { qemuProcessesMentioning } from '../drivers/qemu-lifecycle/helpers.js';
import { type Daemon, qemuPeerMissing, startLibvirtd } from '../drivers/remote/libvirtd.js';

export const QEMU = '/usr/bin/qemu-system-x86_64';
const MISSING = qemuPeerMissing(QEMU);
/** Whether libvirtd, its QEMU driver, python3-libvirt and the emulator are all here. */
export const PEER_READY = MISSING === '';
/** '' when the differential can run, else ' (skipped: why)' for the describe's title. */
export const PEER_SKIP = PEER_READY ? '' : ` (skipped: ${MISSING})`;

export interface QemuStatsPeer {
  /** The daemon's directory: room for the images of both sides. */
  readonly root: string;
  /** `qemu+unix:///session?socket=...` of the daemon. */
  readonly uri: string;
  /** Runs `script` in python3 with `libvirt` imported, the daemon's URI as `sys.argv[1]`; its stdout. */
  python(script: string, args: readonly string[], timeoutMs?: number): string;
  /** A virtkit qemu:///session connection with its roots under `root` (`vk-run`, `vk-state`, ...). */
  connect(extra?: { storagePoolRoots?: string[] }): Promise<Connection>;
}

export function qemuStatsPeer(): QemuStatsPeer {
  let daemon: Daemon | undefined;
  const conns: Connection[] = [];
  beforeAll(async () => {
    daemon = await startLibvirtd();
    chmodSync(daemon.dir, 0o755);
  }, 60_000);
  afterAll(async () => {
    for (const conn of conns) {
      if (conn.isClosed) continue;
      for (const d of (await conn.listDomains({ active: true }).catch(() => [])) ?? [])
        await d.destroy().catch(() => {});
      await conn.close();
    }
    if (daemon)
      for (const pid of qemuProcessesMentioning(join(daemon.dir, 'vk'))) process.kill(pid, 'SIGKILL');
    await daemon?.stop();
  }, 60_000);
  const started = (): Daemon => {
    if (!daemon) throw new Error('the private libvirtd did not start (the test should have been skipped)');
    return daemon;
  };
  return {
    get root() {
      return started().dir;
    },
    get uri() {
      return `qemu+unix:///session?socket=${started().socket}`;
    },
    python(script, args, timeoutMs = 60_000) {
      const prelude =
        'import sys, json, time, libvirt\nlibvirt.registerErrorHandler(lambda *a: None, None)\n';
      return execFileSync('/usr/bin/python3', ['-c', prelude + script, this.uri, ...args], {
        encoding: 'utf8',
        timeout: timeoutMs,
      });
    },
    async connect(extra = {}) {
      const root = started().dir;
      const conn = await connect('qemu:///session', {
        driverOptions: {
          runDir: join(root, 'vk-run'),
          stateDir: join(root, 'vk-state'),
          configDir: join(root, 'vk-config'),
          logDir: join(root, 'vk-log'),
          cacheDir: join(root, 'vk-cache'),
          emulators: [QEMU],
          ...extra,
        },
      });
      conns.push(conn);
      return conn;
    },
  };
}
