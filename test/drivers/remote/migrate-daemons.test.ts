/**
 * Live migration through libvirtd: two private daemons on this machine, each
 * with its own `host_uuid` (libvirt refuses a migration to "the same host"),
 * their QEMU drivers at `qemu+unix:///session`, and a small diskless TCG
 * guest moved between them — managed (the client runs Begin3 ... Confirm3)
 * and peer-to-peer (the source daemon opens the destination). What the
 * daemons say afterwards is read with python3-libvirt.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import type { DomainJobInfo } from '../../../src/driver.js';
import type { VirError } from '../../../src/errors.js';
import { type Daemon, LIBVIRTD, LIBVIRTD_QEMU_DRIVER, PYTHON_LIBVIRT, startLibvirtd } from './libvirtd.js';

const QEMU = existsSync('/usr/bin/qemu-system-x86_64');
const ready = Boolean(LIBVIRTD && PYTHON_LIBVIRT && LIBVIRTD_QEMU_DRIVER && QEMU);
if (!ready) {
  console.warn(
    'skipping migration through libvirtd: it needs libvirtd with its QEMU driver (libvirt-daemon-driver-qemu), ' +
      'qemu-system-x86_64 and python3-libvirt',
  );
}

/**
 * A guest with nothing to carry but memory: SeaBIOS looking for a boot device, forever. Its
 * pages are nearly all zero, which QEMU sends as a few bytes each: the guests that are aborted
 * mid-copy have 512 MiB so that the copy at 1 MiB/s lasts a few seconds.
 */
const guestXml = (name: string, mib = 64) =>
  `<domain type='qemu'><name>${name}</name><memory unit='MiB'>${mib}</memory><vcpu>1</vcpu>` +
  "<os><type arch='x86_64'>hvm</type></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator>" +
  '</devices></domain>';

/** What libvirt itself says about a domain on a daemon (python3-libvirt). */
function libvirtView(uri: string, name: string): { exists: boolean; state?: number; memTotal?: number } {
  const script = `import json, sys, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
try:
  d = c.lookupByName(sys.argv[2])
except libvirt.libvirtError:
  print(json.dumps({'exists': False})); sys.exit(0)
out = {'exists': True, 'state': d.state()[0]}
try:
  s = d.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED | libvirt.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED)
  if 'memory_total' in s: out['memTotal'] = s['memory_total']
except libvirt.libvirtError:
  pass
print(json.dumps(out))`;
  return JSON.parse(
    execFileSync(PYTHON_LIBVIRT!, ['-c', script, uri, name], { encoding: 'utf8', timeout: 30_000 }),
  ) as ReturnType<typeof libvirtView>;
}

const VIR_DOMAIN_RUNNING = 1;

async function errorOf(p: Promise<unknown>): Promise<VirError> {
  return (await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  )) as VirError;
}

describe.skipIf(!ready)('migration between two libvirtds (remote driver)', () => {
  let a: Daemon;
  let b: Daemon;
  let uriA: string;
  let uriB: string;
  let connA: Connection;
  let connB: Connection;

  beforeAll(async () => {
    [a, b] = await Promise.all([
      startLibvirtd({ hostUuid: '7a1e5b0c-0000-4000-8000-00000000000a' }),
      startLibvirtd({ hostUuid: '7a1e5b0c-0000-4000-8000-00000000000b' }),
    ]);
    uriA = `qemu+unix:///session?socket=${a.socket}`;
    uriB = `qemu+unix:///session?socket=${b.socket}`;
    [connA, connB] = await Promise.all([connect(uriA), connect(uriB)]);
  }, 120_000);

  afterAll(async () => {
    for (const [conn, name] of [
      [connA, 'mig-managed'],
      [connB, 'mig-managed'],
      [connA, 'mig-abort'],
      [connB, 'mig-abort'],
      [connA, 'mig-fail'],
      [connA, 'mig-die'],
    ] as const) {
      await conn
        ?.lookupDomain(name)
        .then((d) => d.destroy())
        .catch(() => {});
    }
    await connA?.close();
    await connB?.close();
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('migrates managed (Begin3..Confirm3), progress as an async iterator, then back peer-to-peer', async () => {
    const dom = await connA.createDomain(guestXml('mig-managed'));
    const job = dom.migrateWithProgress(connB, { live: true });
    const seen: DomainJobInfo[] = [];
    for await (const p of job.progress) seen.push(p);
    const there = await job.done;
    expect(there.name).toBe('mig-managed');
    expect((await there.getState()).state).toBe('running');
    await expect(connA.lookupDomain('mig-managed')).rejects.toMatchObject({ code: 'NO_DOMAIN' });
    // libvirt's own view: running at B with the job's completed stats, gone from A
    const atB = libvirtView(uriB, 'mig-managed');
    expect(atB).toMatchObject({ exists: true, state: VIR_DOMAIN_RUNNING });
    expect(libvirtView(uriA, 'mig-managed').exists).toBe(false);
    expect(atB.memTotal).toBeGreaterThan(0);
    const last = seen.at(-1);
    expect(last?.type).toBe('completed');
    expect(last?.memTotal).toBe(atB.memTotal);
    expect(last?.downtime).toBeGreaterThanOrEqual(0);

    // and back, the source daemon (B) opening A itself
    const back = await there.migrate(connA, { live: true, peer2peer: true });
    expect((await back.getState()).state).toBe('running');
    expect(libvirtView(uriA, 'mig-managed')).toMatchObject({ exists: true, state: VIR_DOMAIN_RUNNING });
    expect(libvirtView(uriB, 'mig-managed').exists).toBe(false);
    await back.destroy();
  }, 120_000);

  for (const peer2peer of [false, true]) {
    it(`leaves the guest running at the source when aborted (${peer2peer ? 'peer-to-peer' : 'managed'})`, async () => {
      const dom = await connA.createDomain(guestXml('mig-abort', 512));
      const ctl = new AbortController();
      // 1 MiB/s: the copy takes seconds; it is aborted once it is under way
      const job = dom.migrateWithProgress(connB, { live: true, peer2peer, bandwidth: 1, signal: ctl.signal });
      const seen: DomainJobInfo[] = [];
      const iterated = (async () => {
        for await (const p of job.progress) {
          seen.push(p);
          if (p.dataProcessed > 0) ctl.abort();
        }
      })();
      const err = await errorOf(job.done);
      expect(err.code).toBe('OPERATION_ABORTED');
      await expect(iterated).rejects.toMatchObject({ code: 'OPERATION_ABORTED' });
      expect(seen.some((p) => p.type === 'unbounded' && p.dataRemaining > 0)).toBe(true);
      expect((await dom.getState()).state).toBe('running');
      expect(libvirtView(uriA, 'mig-abort')).toMatchObject({ exists: true, state: VIR_DOMAIN_RUNNING });
      expect(libvirtView(uriB, 'mig-abort').exists).toBe(false);
      await dom.destroy();
    }, 120_000);
  }

  it('aborts at the migration timeout as OPERATION_TIMEOUT, the guest running at the source', async () => {
    const dom = await connA.createDomain(guestXml('mig-abort', 512));
    // At 1 MiB/s the 512 MiB copy takes minutes, so the 300 ms deadline passes on any host
    const err = await errorOf(dom.migrate(connB, { live: true, bandwidth: 1, timeout: 300 }));
    expect(err.code).toBe('OPERATION_TIMEOUT');
    expect(err.message).toMatch(/did not complete within 300 ms/);
    expect((await dom.getState()).state).toBe('running');
    expect(libvirtView(uriB, 'mig-abort').exists).toBe(false);
    await dom.destroy();
  }, 120_000);

  it('leaves the guest running at the source when the destination cannot take the memory', async () => {
    const dom = await connA.createDomain(guestXml('mig-fail'));
    // the destination's QEMU cannot listen on a privileged port as an unprivileged daemon
    const err = await errorOf(dom.migrate(connB, { live: true, migrateUri: 'tcp://127.0.0.1:1' }));
    // libvirt's message: QEMU's migrate-incoming could not bind the socket
    expect(err.message).toMatch(/migrate-incoming.*bind/);
    expect((await dom.getState()).state).toBe('running');
    expect(libvirtView(uriA, 'mig-fail')).toMatchObject({ exists: true, state: VIR_DOMAIN_RUNNING });
    expect(libvirtView(uriB, 'mig-fail').exists).toBe(false);
    // nothing stays locked at the source: a second migration goes through
    const there = await dom.migrate(connB, { live: true });
    expect((await there.getState()).state).toBe('running');
    await there.destroy();
  }, 120_000);

  it('leaves the guest running at the source when the destination QEMU dies mid-copy', async () => {
    const dom = await connA.createDomain(guestXml('mig-die', 512));
    // the destination daemon's QEMU for the incoming guest, by the pid file libvirt writes
    const pidFile = join(b.dir, 'run/libvirt/qemu/run/mig-die.pid');
    let killed = false;
    const err = await errorOf(
      dom.migrate(connB, {
        live: true,
        bandwidth: 1,
        onProgress: (p) => {
          if (killed || p.dataProcessed === 0 || !existsSync(pidFile)) return;
          killed = true;
          process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
        },
      }),
    );
    expect(killed).toBe(true);
    expect(err.code).not.toBe('OPERATION_ABORTED');
    expect((await dom.getState()).state).toBe('running');
    expect(libvirtView(uriA, 'mig-die')).toMatchObject({ exists: true, state: VIR_DOMAIN_RUNNING });
    expect(libvirtView(uriB, 'mig-die').exists).toBe(false);
    await dom.destroy();
  }, 120_000);

  it('refuses a destination of another driver', async () => {
    const other = await connect('test:///default');
    const dom = await connA.createDomain(guestXml('mig-fail'));
    await expect(dom.migrate(other)).rejects.toMatchObject({ code: 'NO_SUPPORT' });
    expect((await dom.getState()).state).toBe('running');
    await dom.destroy();
    await other.close();
  }, 60_000);
});
