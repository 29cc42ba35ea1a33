/**
 * Live migration between two qemu:///session state roots (two hosts on one
 * machine) with real QEMU under TCG: a small diskless guest (SeaBIOS finds
 * nothing to boot and waits, running) moves and runs on the destination;
 * the states, reasons and events are libvirt's (`stopped/migrated` at the
 * source, `started/migrated` then `resumed/migrated` at the destination);
 * the definition moves or stays by flags; an abort, a destination killed
 * mid-way, a clash of names and devices that cannot move leave the source
 * running and nothing behind at the destination.
 */
import { describe, expect, it } from 'vitest';
import { connect } from '../../../src/connection.js';
import type { AnyDomainEvent, DomainJobInfo } from '../../../src/driver.js';
import { waitForLength } from '../../wait-for.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE, qemuProcessesMentioning } from '../qemu-lifecycle/helpers.js';
import { errorOf, eventHostsEachTest } from '../real-guest.js';

const hosts = eventHostsEachTest();
/** One "host": its own config, state, run and log roots. */
const host = (label: string) => hosts.host(`vk-mig-${label}-`);

let n = 0;
function guestXml(name: string, o: { memMiB?: number; devices?: string; cpu?: string } = {}): string {
  n++;
  const uuid = `b2b2b2b2-0000-4000-8000-${String(process.pid * 100 + n).padStart(12, '0')}`;
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>${o.memMiB ?? 32}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  ${o.cpu ?? ''}
  <devices><emulator>${QEMU_BINARY}</emulator>${o.devices ?? ''}<memballoon model='none'/></devices>
</domain>`;
}

describe.skipIf(!HAS_QEMU)(`live migration between two state roots${QEMU_NOTE}`, () => {
  it('moves a running persistent guest: states, events, progress, definitions by flags', async () => {
    const a = await host('a');
    const b = await host('b');
    const dom = await a.conn.defineDomain(guestXml('vk-mig-1'));
    await dom.start();
    const progress: DomainJobInfo[] = [];
    const srcJob = a.conn.events({ ids: ['job-completed', 'lifecycle'] });
    const dstJob = b.conn.events({ ids: ['job-completed'] });
    const moved = await dom.migrate(b.conn, {
      live: true,
      persistDest: true,
      undefineSource: true,
      xbzrle: true,
      autoConverge: true,
      onProgress: (i) => progress.push(i),
    });
    expect(moved.connection).toBe(b.conn);
    expect(moved.name).toBe('vk-mig-1');
    expect(moved.uuid).toBe(dom.uuid);
    expect(await moved.getState()).toEqual({ state: 'running', reason: 'migrated' });
    expect(await moved.isPersistent()).toBe(true);
    // The source's domain is gone: stopped, and its definition removed (undefineSource).
    expect(await a.conn.listDomains()).toEqual([]);
    const last = progress.at(-1);
    expect(last?.type).toBe('completed');
    // All of the guest's RAM blocks: its 32 MiB and the firmware's.
    expect(last?.memTotal).toBeGreaterThanOrEqual(32 * 1024 * 1024);
    expect(last?.dataProcessed).toBeGreaterThan(0);
    expect(last?.downtime).toBeGreaterThanOrEqual(0);
    // libvirt's job-completed on both sides, with virDomainGetJobStats's names; the source's comes
    // before its stopped/migrated; operation is VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT (5) / _IN (4)
    const seenAtSource: string[] = [];
    let srcParams: Record<string, unknown> | undefined;
    for (;;) {
      const ev = (await srcJob.next()).value as AnyDomainEvent;
      if (ev.type === 'job-completed') {
        seenAtSource.push('job-completed');
        srcParams = ev.params;
      } else if (ev.type === 'lifecycle') seenAtSource.push(`${ev.event}/${ev.detail}`);
      if (seenAtSource.includes('stopped/migrated')) break;
    }
    expect(seenAtSource.slice(-2)).toEqual(['job-completed', 'stopped/migrated']);
    expect(srcParams?.operation).toBe(5);
    // the stats QEMU's last query-migrate gave, in libvirt's units and types
    expect(srcParams?.memory_total).toBe(BigInt(last?.memTotal ?? -1));
    expect(srcParams?.memory_processed).toBe(BigInt(last?.memProcessed ?? -1));
    expect(srcParams?.time_elapsed).toBe(BigInt(last?.timeElapsed ?? -1));
    expect(srcParams?.downtime).toBe(BigInt(last?.downtime ?? -1));
    expect(typeof srcParams?.memory_bps).toBe('bigint');
    expect(srcParams?.disk_total).toBe(0n);
    const dst = (await dstJob.next()).value as AnyDomainEvent;
    expect(dst).toMatchObject({ type: 'job-completed', domain: { name: 'vk-mig-1' } });
    if (dst.type === 'job-completed') expect(dst.params).toEqual({ ...srcParams, operation: 4 });
    srcJob.end();
    dstJob.end();
    expect(await waitForLength(a.events, 6)).toEqual([
      'defined/added',
      'resumed/unpaused',
      'started/booted',
      'suspended/migrated',
      'stopped/migrated',
      'undefined/removed',
    ]);
    // libvirt's order at the destination: prepared, made persistent, then resumed.
    expect(await waitForLength(b.events, 3)).toEqual([
      'started/migrated',
      'defined/added',
      'resumed/migrated',
    ]);
    // One QEMU: the destination's.
    expect(qemuProcessesMentioning(a.roots.path)).toEqual([]);
    expect(qemuProcessesMentioning(b.roots.path).length).toBe(1);
    // It keeps running there: it can move back (no persistDest: transient at the source).
    const back = await moved.migrate(a.conn, { live: true });
    expect(await back.getState()).toEqual({ state: 'running', reason: 'migrated' });
    expect(await back.isPersistent()).toBe(false);
    // Without undefineSource, b keeps its (now inactive) definition.
    expect((await b.conn.listDomains()).map((d) => d.name)).toEqual(['vk-mig-1']);
    expect(await moved.getState()).toEqual({ state: 'shutoff', reason: 'migrated' });
  });

  it('a transient guest without persistDest is transient there; non-live pauses for the copy; postcopy allowed', async () => {
    const a = await host('a');
    const b = await host('b');
    const dom = await a.conn.createDomain(guestXml('vk-mig-2'));
    // postcopy: both QEMUs get the capability (the copy completes as pre-copy, nothing asks for the switch)
    const moved = await dom.migrate(b.conn, { postcopy: true });
    expect((await moved.getState()).state).toBe('running');
    expect(await moved.isPersistent()).toBe(false);
    // Not live: libvirt pauses the guest for the copy, for `migration`.
    expect(await waitForLength(a.events, 4)).toEqual([
      'resumed/unpaused',
      'started/booted',
      'suspended/migrated',
      'stopped/migrated',
    ]);
  });

  it('abort through the signal: OPERATION_ABORTED, the source runs, nothing left at the destination', async () => {
    const a = await host('a');
    const b = await host('b');
    const dom = await a.conn.createDomain(guestXml('vk-mig-3', { memMiB: 64 }));
    const ctl = new AbortController();
    const err = await errorOf(
      dom.migrate(b.conn, {
        live: true,
        bandwidth: 1,
        signal: ctl.signal,
        onProgress: (i) => {
          if (i.status === 'active') ctl.abort();
        },
      }),
    );
    expect(err.code).toBe('OPERATION_ABORTED');
    // Undone by the time the call returns: the guest runs here, nothing is left there.
    expect((await dom.getState()).state).toBe('running');
    expect(await b.conn.listDomains()).toEqual([]);
    expect(qemuProcessesMentioning(b.roots.path)).toEqual([]);
    // libvirt's destination of a migration that did not complete: stopped, failed.
    expect(await waitForLength(b.events, 2)).toEqual(['started/migrated', 'stopped/failed']);
    // Not live, so paused for the copy: an abort runs it again, as libvirt's "migration canceled".
    const ctl2 = new AbortController();
    const again = dom.migrate(b.conn, {
      bandwidth: 1,
      signal: ctl2.signal,
      onProgress: (i) => {
        if (i.status === 'active') ctl2.abort();
      },
    });
    expect((await errorOf(again)).code).toBe('OPERATION_ABORTED');
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'migration canceled' });
  });

  it('a destination killed mid-way: OPERATION_FAILED with QEMU reason, the source runs', async () => {
    const a = await host('a');
    const b = await host('b');
    const dom = await a.conn.createDomain(guestXml('vk-mig-4', { memMiB: 64 }));
    let killed = false;
    const err = await errorOf(
      dom.migrate(b.conn, {
        live: true,
        bandwidth: 1,
        onProgress: (i) => {
          if (killed || i.status !== 'active') return;
          killed = true;
          for (const pid of qemuProcessesMentioning(b.roots.path)) process.kill(pid, 'SIGKILL');
        },
      }),
    );
    expect(killed).toBe(true);
    expect(err.code).toBe('OPERATION_FAILED');
    expect(err.message).toMatch(/migration of 'vk-mig-4' failed: ./);
    expect((await dom.getState()).state).toBe('running');
    // the destination's guest has ended once its stopped event came
    await waitForLength(b.events, 2);
    expect(await b.conn.listDomains()).toEqual([]);
    expect(b.events).toEqual(['started/migrated', 'stopped/failed']);
    // After a failed try the guest still moves.
    const moved = await dom.migrate(b.conn, { live: true });
    expect((await moved.getState()).state).toBe('running');
  });

  it('refuses a clash of name or uuid at the destination, and devices whose helpers it cannot move', async () => {
    const a = await host('a');
    const b = await host('b');
    const dom = await a.conn.createDomain(guestXml('vk-mig-5'));
    await b.conn.defineDomain(guestXml('vk-mig-5'));
    const clash = await errorOf(dom.migrate(b.conn, { live: true }));
    expect(clash.code).toBe('OPERATION_INVALID');
    expect(clash.message).toContain('a domain of that name exists there');
    expect((await dom.getState()).state).toBe('running');
    expect(qemuProcessesMentioning(b.roots.path)).toEqual([]);

    const tpm = await a.conn.defineDomain(
      guestXml('vk-mig-6', {
        devices: "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>",
      }),
    );
    // Not started (swtpm may be missing here): the check is on the live definition, so start it first.
    if (
      await tpm.start().then(
        () => true,
        () => false,
      )
    ) {
      const e = await errorOf(tpm.migrate(b.conn, { live: true }));
      expect(e.code).toBe('CONFIG_UNSUPPORTED');
      expect(e.field).toBe('/domain/devices/tpm[1]/backend/@type');
      expect((await tpm.getState()).state).toBe('running');
    }
  });

  it('host-model, maximum and custom CPUs with optional features pass the CPU check between two roots of one host', async () => {
    const a = await host('a');
    const b = await host('b');
    const cpus = [
      "<cpu mode='host-model'/>",
      "<cpu mode='maximum'/>",
      "<cpu mode='custom' match='exact'><model>qemu64</model><feature policy='optional' name='sse4.2'/></cpu>",
    ];
    for (const [i, cpu] of cpus.entries()) {
      const dom = await a.conn.createDomain(guestXml(`vk-mig-cpu-${i}`, { cpu }));
      const moved = await dom.migrate(b.conn, { live: true });
      expect((await moved.getState()).state, cpu).toBe('running');
      await moved.destroy();
    }
  });

  it('a CPU QEMU changed at start: the destination runs the one the guest ran, and migrates on as asked', async () => {
    const a = await host('a');
    const b = await host('b');
    const asked =
      "<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>";
    const wanted =
      "<cpu mode='custom' match='exact' check='none'>\n    <model fallback='forbid'>qemu64</model>\n  </cpu>";
    const cpuOf = (xml: string) => /<cpu[\s\S]*?<\/cpu>/.exec(xml)?.[0] ?? '';
    const dom = await a.conn.createDomain(guestXml('vk-mig-origcpu', { cpu: asked }));
    const live = cpuOf(await dom.getXML());
    // QEMU's qemu64 under TCG has more than the model (see restart-facts.test.ts)
    expect(live).toContain("<feature policy='require' name='hypervisor'/>");
    const moved = await dom.migrate(b.conn, { live: true });
    expect(cpuOf(await moved.getXML())).toBe(live);
    expect(cpuOf(await moved.getXML({ migratable: true }))).toBe(wanted);
    await moved.destroy();
  });

  it('automatic display ports are chosen again at the destination (the source holds its own)', async () => {
    const a = await host('a');
    const b = await host('b');
    const vnc =
      "<graphics type='vnc' autoport='yes' websocket='-1'><listen type='address' address='127.0.0.1'/></graphics>";
    const dom = await a.conn.createDomain(guestXml('vk-mig-vnc', { devices: vnc }));
    const portsOf = (xml: string) => /<graphics[^>]*>/.exec(xml)?.[0] ?? '';
    const src = portsOf(await dom.getXML());
    const moved = await dom.migrate(b.conn, { live: true });
    const dst = portsOf(await moved.getXML());
    expect(dst).toMatch(/port='59\d\d'/);
    expect(dst).toMatch(/websocket='57\d\d'/);
    expect(dst).not.toBe(src);
  });

  it('is NO_SUPPORT towards another driver, and the same connection is no destination', async () => {
    const a = await host('a');
    const dom = await a.conn.createDomain(guestXml('vk-mig-7'));
    const test = await connect('test:///default');
    hosts.keep(test);
    expect((await errorOf(dom.migrate(test, { live: true }))).code).toBe('NO_SUPPORT');
    expect((await errorOf(dom.migrate(a.conn, { live: true }))).code).toBe('OPERATION_INVALID');
    // the remote driver's options have no meaning between two roots of one process: refused, not dropped
    const b = await host('b');
    for (const [field, value] of [
      ['peer2peer', true],
      ['destUri', 'qemu:///session'],
      ['migrateUri', 'tcp://127.0.0.1:49152'],
    ] as const) {
      const err = await errorOf(dom.migrate(b.conn, { live: true, [field]: value }));
      expect(err).toMatchObject({ code: 'CONFIG_UNSUPPORTED', field });
    }
    expect((await dom.getState()).state).toBe('running');
  });
});
