/**
 * The set-up the remote driver's differential tests share: one private
 * libvirtd for the file (its test:///default driver), a virtkit connection
 * to it, and python3-libvirt run against the same daemon. Nothing starts
 * when libvirtd (or, with `python`, python3-libvirt) is missing; {@link PEER_NOTE}
 * says why for the skipped describe's title.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import { type Daemon, LIBVIRTD, PYTHON_LIBVIRT, startLibvirtd } from './libvirtd.js';

/** '' when the daemon and python3-libvirt are there, else ' (skipped: why)'. */
export const PEER_NOTE = !LIBVIRTD
  ? ' (skipped: no libvirtd)'
  : !PYTHON_LIBVIRT
    ? ' (skipped: python3-libvirt not installed)'
    : '';

export interface DaemonPeer {
  readonly daemon: Daemon;
  readonly conn: Connection;
  /** Runs `code` in python3-libvirt with the daemon's URI as argv[1]; its stdout parsed as JSON. */
  python(code: string): unknown;
}

/** Starts the daemon before the file's tests (when it can run; `python`: only with python3-libvirt too) and stops it after. */
export function daemonPeer(opts: { needPython?: boolean } = {}): DaemonPeer {
  let daemon: Daemon | undefined;
  let conn: Connection | undefined;
  beforeAll(async () => {
    if (!LIBVIRTD || (opts.needPython && !PYTHON_LIBVIRT)) return;
    daemon = await startLibvirtd();
    conn = await connect(daemon.unixUri);
  });
  afterAll(async () => {
    await conn?.close();
    await daemon?.stop();
  });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined)
      throw new Error('the private libvirtd did not start (the test should have been skipped)');
    return v;
  };
  return {
    get daemon() {
      return started(daemon);
    },
    get conn() {
      return started(conn);
    },
    python(code) {
      const out = execFileSync(PYTHON_LIBVIRT as string, ['-c', code, started(daemon).unixUri], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      return JSON.parse(out);
    },
  };
}
