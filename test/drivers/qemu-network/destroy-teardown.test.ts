/**
 * A destroy returns once what the guest held on the host is given back, as
 * libvirt's virDomainDestroy returns after qemuProcessStop: as root, a guest
 * on an isolated network (a port of the network, a tap made here on its
 * bridge), with a passt user interface and an emulated TPM (swtpm). Right
 * when `destroy()` resolves, with no wait of any kind, the tap is gone from
 * the host, the port from the network (API and file), the status file, the
 * run directory with the monitor socket and the helpers' directory with
 * their sockets from disk, and QEMU, passt and swtpm are dead. The `stopped`
 * event comes after that release (libvirt queues it after qemuProcessStop),
 * also when QEMU dies by itself; two destroys at once, and a destroy racing
 * a QEMU that dies by itself, release once and tell `stopped` once; a
 * managed save's end releases the same way. A step that fails (a file
 * made immutable in the helpers' directory) is written to the domain log,
 * and the rest is still given back: the domain is shut off and starts again.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import type { DomainEvent } from '../../../src/driver.js';
import { isVirError } from '../../../src/errors.js';
import type { Network } from '../../../src/network.js';
import { waitFor } from '../../wait-for.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE, qemuProcessesMentioning } from '../qemu-lifecycle/helpers.js';
import { processesMentioning } from '../real-guest.js';
import { PORTS_SKIP, portsFixture } from './ports-fixture.js';

const BR = 'vk-tdown1';
const NET = 'td-iso';
const PASST = ['/usr/bin/passt', '/usr/local/bin/passt'].find((p) => existsSync(p));
const SWTPM = ['/usr/bin/swtpm', '/usr/local/bin/swtpm'].find((p) => existsSync(p));
const HELPERS_SKIP =
  !PASST || !SWTPM
    ? ' (skipped: needs passt and swtpm installed)'
    : !existsSync('/usr/bin/chattr')
      ? ' (skipped: no chattr)'
      : '';
const SKIP = PORTS_SKIP || HELPERS_SKIP;
const fixture = portsFixture('vk-teardown-', NET, BR);
const NAME = 'vk-teardown';

const XML = `<domain type='qemu'><name>${NAME}</name><uuid>5d0e7a61-2c1b-4f3e-9a8d-7b6c5e4d3f21</uuid>
  <memory unit='MiB'>48</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator>
  <interface type='network'><mac address='52:54:00:7d:00:01'/><source network='${NET}'/><model type='virtio'/></interface>
  <interface type='user'><mac address='52:54:00:7d:00:02'/><model type='virtio'/><backend type='passt'/></interface>
  <tpm model='tpm-tis'><backend type='emulator' version='2.0'/></tpm>
  </devices></domain>`;

/** What a running guest holds on the host, found while it runs. */
interface Held {
  tap: string;
  qemu: number;
  helpers: number[];
  statusFile: string;
  runDir: string;
  helperDir: string;
}

async function held(dom: Domain, helperCount = 2): Promise<Held> {
  const xml = await dom.getXML();
  const tap = /<interface type='network'>[\s\S]*?<target dev='([^']+)'\/>/.exec(xml)?.[1];
  expect(tap, 'the live XML names the tap').toBeDefined();
  expect(existsSync(`/sys/class/net/${tap}`)).toBe(true);
  const [qemu] = qemuProcessesMentioning(fixture.path);
  expect(qemu).toBeDefined();
  // passt's and swtpm's command lines name their sockets under the state root
  const helpers = processesMentioning(fixture.path).filter((p) => p !== qemu);
  expect(helpers.length).toBe(helperCount);
  const qemuState = join(fixture.path, 'state', 'qemu');
  const runDirName = readdirSync(qemuState).find((f) => f.startsWith('domain-') && f.endsWith(NAME));
  expect(runDirName, 'the run directory').toBeDefined();
  const runDir = join(qemuState, runDirName!);
  expect(existsSync(join(runDir, 'monitor.sock'))).toBe(true);
  const helperDir = join(qemuState, `helpers-${dom.uuid}`);
  if (helperCount > 0) expect(readdirSync(helperDir).some((f) => f.endsWith('.sock'))).toBe(true);
  const statusFile = join(qemuState, `${NAME}.xml`);
  expect(existsSync(statusFile)).toBe(true);
  return { tap: tap!, qemu: qemu!, helpers, statusFile, runDir, helperDir };
}

/** Nothing of `h` is left: looked at once, synchronously (the caller has just been let go). */
function expectReleased(h: Held, where: string): void {
  expect(existsSync(`/sys/class/net/${h.tap}`), `${where}: tap ${h.tap}`).toBe(false);
  expect(existsSync(h.statusFile), `${where}: status file`).toBe(false);
  expect(existsSync(h.runDir), `${where}: run directory (monitor socket)`).toBe(false);
  expect(existsSync(h.helperDir), `${where}: helpers' sockets`).toBe(false);
  for (const pid of [h.qemu, ...h.helpers])
    expect(existsSync(`/proc/${pid}`), `${where}: pid ${pid}`).toBe(false);
  expect(fixture.portFiles(), `${where}: port files`).toEqual([]);
}

/** The domain's lifecycle events as `event/detail`, each with what `probe` said when it was delivered. */
function record(
  conn: Connection,
  probe: () => boolean,
): { list: string[]; until(entry: string, n?: number): Promise<void> } {
  const list: string[] = [];
  void (async () => {
    for await (const e of conn.events() as AsyncIterable<DomainEvent>) {
      if (e.domain.name !== NAME) continue;
      list.push(`${e.event}/${e.detail}${e.event === 'stopped' ? ` released=${probe()}` : ''}`);
    }
  })();
  return {
    list,
    until: (entry, n = 1) =>
      waitFor(() => list.filter((l) => l === entry).length >= n, {
        what: `${n} × ${entry}`,
        seen: () => list.join(', '),
      }).then(() => {}),
  };
}

describe.skipIf(!HAS_QEMU || SKIP !== '')(`destroy and the guest's host resources${QEMU_NOTE}${SKIP}`, () => {
  it('gives everything back before destroy resolves and before stopped, once, however the run ends', async () => {
    const conn = await fixture.open();
    const net: Network = await conn.networks.create(
      `<network><name>${NET}</name><bridge name='${BR}'/></network>`,
    );
    const dom = await conn.defineDomain(XML);
    let h: Held | undefined;
    const gone = () =>
      h !== undefined &&
      !existsSync(`/sys/class/net/${h.tap}`) &&
      !existsSync(h.statusFile) &&
      fixture.portFiles().length === 0;
    const events = record(conn, gone);

    // 1. destroy: everything is back when it resolves
    await dom.start();
    h = await held(dom);
    expect((await net.listPorts()).length).toBe(1);
    await dom.destroy();
    expectReleased(h, 'after destroy');
    expect(await net.listPorts()).toEqual([]);
    expect((await dom.getState()).state).toBe('shutoff');
    await events.until('stopped/destroyed released=true');

    // 2. QEMU dies by itself: stopped is told once its resources are back
    await dom.start();
    h = await held(dom);
    process.kill(h.qemu, 'SIGKILL');
    await events.until('stopped/failed released=true');
    expectReleased(h, 'after QEMU died');
    expect(await net.listPorts()).toEqual([]);

    // 3. two destroys at once: both resolve after the one release
    await dom.start();
    h = await held(dom);
    const both = await Promise.allSettled([dom.destroy(), dom.destroy()]);
    expect(both.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expectReleased(h, 'after two destroys');
    expect(await net.listPorts()).toEqual([]);

    // 4. a destroy racing a QEMU that dies by itself: whichever wins, the release is done when it settles
    await dom.start();
    h = await held(dom);
    process.kill(h.qemu, 'SIGKILL');
    const raced = await dom.destroy().then(
      () => 'destroyed',
      (err: unknown) => (isVirError(err) ? err.code : String(err)),
    );
    expect(['destroyed', 'OPERATION_INVALID']).toContain(raced);
    expectReleased(h, 'after the raced destroy');
    expect(await net.listPorts()).toEqual([]);

    // 5. a managed save ends the run the same way (the tap and port; swtpm's and passt's state are not saved)
    await conn.defineDomain(
      XML.replace(/<tpm [\s\S]*<\/tpm>/, '').replace(/<interface type='user'>[\s\S]*?<\/interface>/, ''),
    );
    await dom.start();
    h = await held(dom, 0);
    await dom.managedSave();
    expectReleased(h, 'after the managed save');
    expect(await net.listPorts()).toEqual([]);
    await events.until('stopped/saved released=true');
    await dom.managedSaveRemove();

    // every run told started and stopped once each, the stopped ones after the release
    await dom.start();
    await events.until('started/booted', 6);
    const stopped = events.list.filter((l) => l.startsWith('stopped/'));
    expect(stopped.slice(0, 3)).toEqual([
      'stopped/destroyed released=true',
      'stopped/failed released=true',
      'stopped/destroyed released=true',
    ]);
    expect(stopped.length).toBe(5);
    expect(['stopped/destroyed released=true', 'stopped/failed released=true']).toContain(stopped[3]);
    expect(stopped[4]).toBe('stopped/saved released=true');
    await dom.destroy();
    await dom.undefine();
    await net.destroy();
  }, 120_000);

  it('a release step that fails is logged; the rest is given back and the domain ends shut off', async () => {
    const conn = await fixture.open();
    const net = await conn.networks.create(`<network><name>${NET}</name><bridge name='${BR}'/></network>`);
    const dom = await conn.defineDomain(XML);
    await dom.start();
    const h = await held(dom);
    // a file even root cannot remove: the helpers' directory stays, and its removal fails
    const pinned = join(h.helperDir, 'pinned');
    writeFileSync(pinned, '');
    execFileSync('chattr', ['+i', pinned]);
    try {
      await dom.destroy();
      expect(existsSync(pinned)).toBe(true);
      expect(existsSync(`/sys/class/net/${h.tap}`)).toBe(false);
      expect(existsSync(h.statusFile)).toBe(false);
      expect(existsSync(h.runDir)).toBe(false);
      for (const pid of [h.qemu, ...h.helpers]) expect(existsSync(`/proc/${pid}`), `pid ${pid}`).toBe(false);
      expect(await net.listPorts()).toEqual([]);
      expect(fixture.portFiles()).toEqual([]);
      expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'destroyed' });
      const log = readFileSync(join(fixture.path, 'log', 'qemu', `${NAME}.log`), 'utf8');
      expect(log).toMatch(/releasing the guest's host resources: helpers: .*\/pinned/);
    } finally {
      execFileSync('chattr', ['-i', pinned]);
    }
    // nothing is left half done: the guest starts again
    await dom.start();
    expect((await dom.getState()).state).toBe('running');
    await dom.destroy();
    await dom.undefine();
    await net.destroy();
  }, 60_000);
});
