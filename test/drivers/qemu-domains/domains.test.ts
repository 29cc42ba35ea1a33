/**
 * qemu:///session domains through the public API, with real QEMU (TCG,
 * 32 MiB, no disks) and every root in a temporary directory.
 */
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import type { DomainEvent } from '../../../src/driver.js';
import { QmpClient } from '../../../src/drivers/qemu/qmp/index.js';
import { isVirError, type VirErrorCode } from '../../../src/errors.js';
import { getAttr, parseXml } from '../../../src/xml/index.js';
import {
  HAS_QEMU,
  monitorPathOf,
  QEMU_BINARY,
  QEMU_NOTE,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';

let roots: TestRoots;
const conns: Connection[] = [];
const allRoots: TestRoots[] = [];

beforeEach(() => {
  roots = tempRoots('vk-doms-');
  allRoots.push(roots);
});

afterEach(async () => {
  for (const c of conns.splice(0)) {
    if (!c.isClosed) {
      for (const d of await c.listDomains({ active: true })) await d.destroy().catch(() => {});
      await c.close();
    }
  }
  // a guest a test left running on purpose (re-attach) is gone too
  for (const pid of qemuProcessesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
});

afterAll(async () => {
  await new Promise((r) => setTimeout(r, 100));
  for (const r of allRoots) {
    expect(qemuProcessesMentioning(r.path)).toEqual([]);
    r.remove();
  }
});

function driverOptions() {
  return {
    cacheDir: null,
    runDir: join(roots.path, 'rundir'),
    stateDir: join(roots.path, 'state'),
    configDir: join(roots.path, 'config'),
    logDir: join(roots.path, 'log'),
    emulators: [QEMU_BINARY],
  };
}

async function open(): Promise<Connection> {
  const c = await connect('qemu:///session', { driverOptions: driverOptions() });
  conns.push(c);
  return c;
}

let uuidCounter = 0;
function domainXml(name: string, uuid?: string): string {
  uuidCounter++;
  const id = uuid ?? `d0d0d0d0-0000-4000-8000-${String(process.pid * 100 + uuidCounter).padStart(12, '0')}`;
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${id}</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator></devices>
</domain>`;
}

/** Collects lifecycle events as `event/detail/id`. */
function record(conn: Connection): { list: string[]; waitFor(entry: string): Promise<void> } {
  const list: string[] = [];
  const waiters: Array<{ entry: string; resolve(): void }> = [];
  void (async () => {
    for await (const e of conn.events() as AsyncIterable<DomainEvent>) {
      const s = `${e.domain.name}:${e.event}/${e.detail}/${e.domain.id}`;
      list.push(s);
      for (const w of [...waiters]) if (s === w.entry) w.resolve();
    }
  })();
  return {
    list,
    waitFor(entry) {
      if (list.includes(entry)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${entry}; saw ${list.join(', ')}`)), 5000);
        waiters.push({
          entry,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
      });
    },
  };
}

async function expectCode(p: Promise<unknown>, code: VirErrorCode): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isVirError(err), String(err)).toBe(true);
  expect((err as { code: string }).code).toBe(code);
}

function qemuPid(name: string): number {
  const status = readFileSync(join(roots.path, 'state', 'qemu', `${name}.xml`), 'utf8');
  return Number(getAttr(parseXml(status), 'pid'));
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe.skipIf(!HAS_QEMU)(`qemu:///session domains${QEMU_NOTE}`, () => {
  it('define → start → suspend → resume → destroy → undefine, a name with a comma, events in order', async () => {
    const conn = await open();
    const ev = record(conn);
    const name = 'vk,comma guest';
    const dom = await conn.defineDomain(domainXml(name));
    expect(dom.id).toBe(-1);
    const configFile = join(roots.path, 'config', 'qemu', `${name}.xml`);
    expect(parseXml(readFileSync(configFile, 'utf8')).name).toBe('domain');
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'unknown' });
    expect(await dom.isPersistent()).toBe(true);
    // libvirt's define-time defaults: the machine alias is made canonical, a balloon is added
    const stored = parseXml(await dom.getXML({ inactive: true }));
    expect(await dom.getXML({ inactive: true })).toMatch(/machine='pc-i440fx-[0-9.]+'/);
    expect(await dom.getXML({ inactive: true })).toContain("<memballoon model='virtio'>");
    expect(stored.name).toBe('domain');

    await dom.start();
    expect(dom.id).toBeGreaterThan(0);
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'booted' });
    // the comma reached QEMU escaped as QEMU's option parser reads a literal comma
    const argv = readFileSync(`/proc/${qemuPid(name)}/cmdline`, 'utf8').split('\0');
    expect(argv).toContain('guest=vk,,comma guest,debug-threads=on');

    expect((await conn.lookupDomain(name)).id).toBe(dom.id);
    expect((await conn.lookupDomain(dom.uuid)).name).toBe(name);
    expect((await conn.lookupDomain(dom.id)).uuid).toBe(dom.uuid);
    expect((await conn.listDomains({ active: true })).map((d) => d.name)).toEqual([name]);
    expect(await conn.listDomains({ active: false })).toEqual([]);

    const live = parseXml(await dom.getXML());
    expect(getAttr(live, 'id')).toBe(String(dom.id));
    expect(getAttr(parseXml(await dom.getXML({ inactive: true })), 'id')).toBeUndefined();

    await dom.suspend();
    expect(await dom.getState()).toEqual({ state: 'paused', reason: 'user' });
    await dom.resume();
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'unpaused' });

    await dom.setMemory(16 * 1024);
    const info = await dom.getInfo();
    expect(info).toMatchObject({ state: 'running', maxMem: 32 * 1024, memory: 16 * 1024, nrVirtCpu: 1 });

    const id = dom.id;
    await dom.destroy();
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'destroyed' });
    expect((await conn.lookupDomain(name)).id).toBe(-1);
    await dom.undefine();
    expect(existsSync(configFile)).toBe(false);
    await expectCode(conn.lookupDomain(name), 'NO_DOMAIN');
    await tick();
    expect(ev.list).toEqual([
      `${name}:defined/added/-1`,
      `${name}:resumed/unpaused/${id}`,
      `${name}:started/booted/${id}`,
      `${name}:suspended/paused/${id}`,
      `${name}:resumed/unpaused/${id}`,
      `${name}:shutdown/host/${id}`,
      `${name}:stopped/destroyed/-1`,
      `${name}:undefined/removed/-1`,
    ]);
  });

  it("refuses invalid transitions and identity clashes with libvirt's codes", async () => {
    const conn = await open();
    const ev = record(conn);
    const dom = await conn.defineDomain(domainXml('vk-codes'));
    // libvirt's QEMU driver: calls needing a running guest are OPERATION_INVALID
    await expectCode(dom.suspend(), 'OPERATION_INVALID');
    await expectCode(dom.resume(), 'OPERATION_INVALID');
    await expectCode(dom.destroy(), 'OPERATION_INVALID');
    await expectCode(dom.shutdown(), 'OPERATION_INVALID');
    await expectCode(dom.reboot(), 'OPERATION_INVALID');
    await expectCode(dom.reset(), 'OPERATION_INVALID');
    await expectCode(dom.setMemory(1024), 'OPERATION_INVALID');
    // same name, other UUID; same UUID, other name
    await expectCode(conn.defineDomain(domainXml('vk-codes')), 'OPERATION_FAILED');
    await expectCode(conn.defineDomain(domainXml('vk-other', dom.uuid)), 'OPERATION_FAILED');
    // the domain model refuses a '/' in a name (it would escape the config directory)
    await expectCode(conn.defineDomain(domainXml('a/b')), 'XML_DETAIL');
    // redefining with the same identity updates
    await conn.defineDomain(domainXml('vk-codes', dom.uuid).replace('>32<', '>48<'));
    expect((await dom.getInfo()).maxMem).toBe(48 * 1024);

    await dom.start({ paused: true });
    expect(await dom.getState()).toEqual({ state: 'paused', reason: 'user' });
    await expectCode(dom.start(), 'OPERATION_INVALID');
    await expectCode(conn.createDomain(domainXml('vk-codes', dom.uuid)), 'OPERATION_INVALID');
    await expectCode(dom.setMemory(64 * 1024), 'INVALID_ARG');
    // libvirt's QEMU driver: suspending a paused guest is a no-op, resuming a running one
    // is refused, and the power button is pressed for a running guest only
    await dom.suspend();
    await expectCode(dom.shutdown(), 'OPERATION_INVALID');
    await dom.resume();
    await expectCode(dom.resume(), 'OPERATION_INVALID');
    await dom.destroy();

    // autostart is a link beside the definitions; transient domains have none
    await dom.setAutostart(true);
    expect(await dom.getAutostart()).toBe(true);
    expect(lstatSync(join(roots.path, 'config', 'qemu', 'autostart', 'vk-codes.xml')).isSymbolicLink()).toBe(
      true,
    );
    expect((await conn.listDomains({ autostart: true })).map((d) => d.name)).toEqual(['vk-codes']);

    const transient = await conn.createDomain(domainXml('vk-transient'));
    expect(await transient.isPersistent()).toBe(false);
    await expectCode(transient.undefine(), 'OPERATION_INVALID');
    await expectCode(transient.setAutostart(true), 'OPERATION_INVALID');
    expect((await conn.listDomains({ persistent: false })).map((d) => d.name)).toEqual(['vk-transient']);
    await transient.destroy();
    // a transient domain is gone once it stops
    await expectCode(conn.lookupDomain('vk-transient'), 'NO_DOMAIN');
    await dom.undefine();
    await tick();
    expect(ev.list.filter((e) => e.startsWith('vk-codes:defined'))).toEqual([
      'vk-codes:defined/added/-1',
      'vk-codes:defined/updated/-1',
    ]);
    expect(
      ev.list.filter((e) => e.startsWith('vk-transient:')).map((e) => e.replace(/\/\d+$/, '/N')),
    ).toEqual([
      'vk-transient:resumed/unpaused/N',
      'vk-transient:started/booted/N',
      'vk-transient:shutdown/host/N',
      'vk-transient:stopped/destroyed/-1',
    ]);
  });

  it('QEMU killed with SIGKILL: shutoff/crashed and a stopped/failed event', async () => {
    const conn = await open();
    const ev = record(conn);
    const dom = await conn.defineDomain(domainXml('vk-kill'));
    await dom.start();
    process.kill(qemuPid('vk-kill'), 'SIGKILL');
    await ev.waitFor('vk-kill:stopped/failed/-1');
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'crashed' });
    expect(existsSync(join(roots.path, 'state', 'qemu', 'vk-kill.xml'))).toBe(false);
    // it starts again after the crash
    await dom.start();
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'booted' });
  });

  it('a start QEMU refuses fails with its words and leaves nothing running; an unknown machine is refused at define', async () => {
    const conn = await open();
    const xml = domainXml('vk-disk').replace(
      '<devices>',
      "<devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/dev/null'/><target dev='hda' bus='ide'/></disk>",
    );
    const dom = await conn.defineDomain(xml);
    const err = await dom.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isVirError(err, 'OPERATION_FAILED'), String(err)).toBe(true);
    expect(String((err as Error).message)).toContain('/dev/null');
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'failed' });
    expect(dom.id).toBe(-1);
    expect(qemuProcessesMentioning(roots.path)).toEqual([]);
    await dom.undefine();

    // the define-time defaults check the machine against the probed binary, as libvirt does
    await expectCode(
      conn.defineDomain(domainXml('vk-bad-machine').replace("machine='pc'", "machine='no-such-machine'")),
      'CONFIG_UNSUPPORTED',
    );
    await expectCode(conn.lookupDomain('vk-bad-machine'), 'NO_DOMAIN');
  });

  it('host-side settings the driver does not apply (cgroups, pins, labels) refuse the start, naming the field', async () => {
    const conn = await open();
    const cases: Array<[string, string]> = [
      ['<memtune><hard_limit unit="MiB">64</hard_limit></memtune>', '/domain/memtune'],
      ['<cputune><shares>512</shares></cputune>', '/domain/cputune'],
      ["<seclabel type='dynamic' model='selinux'/>", '/domain/seclabel[1]'],
      [
        "<lease><lockspace>ls</lockspace><key>k</key><target path='/tmp/vk-lease'/></lease>",
        '/domain/devices/lease[1]',
      ],
    ];
    for (const [i, [extra, field]] of cases.entries()) {
      const base = domainXml(`vk-host-side-${i}`);
      const xml = extra.startsWith('<seclabel')
        ? base.replace('</devices>', `</devices>${extra}`)
        : extra.startsWith('<lease')
          ? base.replace('</devices>', `${extra}</devices>`)
          : base.replace('<vcpu>', `${extra}<vcpu>`);
      const dom = await conn.defineDomain(xml);
      const err = await dom.start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isVirError(err, 'CONFIG_UNSUPPORTED'), String(err)).toBe(true);
      expect((err as { field?: string }).field).toBe(field);
      expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'unknown' });
      expect(qemuProcessesMentioning(roots.path)).toEqual([]);
      await dom.undefine();
    }
    // a label of type none asks for nothing: the guest starts
    const plain = await conn.defineDomain(
      domainXml('vk-host-side-none').replace('</devices>', "</devices><seclabel type='none'/>"),
    );
    await plain.start({ paused: true });
    expect((await plain.getState()).state).toBe('paused');
    await plain.destroy();
  });

  it('domainXMLToNative gives the command line a start would run, starts nothing, and refuses what start refuses', async () => {
    const conn = await open();
    const line = await conn.domainXMLToNative('qemu-argv', domainXml('vk-native,x'));
    // the guest name's comma is doubled for QEMU's option parser, and the whole word is quoted for the shell
    expect(line).toMatch(/ -name guest=vk-native,,x,debug-threads=on /);
    expect(line.split(' ').includes(QEMU_BINARY), line).toBe(true);
    expect(line).toContain(' -S ');
    expect(qemuProcessesMentioning(roots.path)).toEqual([]);
    await expectCode(conn.lookupDomain('vk-native,x'), 'NO_DOMAIN');
    await expectCode(conn.domainXMLToNative('xen-xm', domainXml('vk-native')), 'INVALID_ARG');
    await expectCode(
      conn.domainXMLToNative(
        'qemu-argv',
        domainXml('vk-native').replace('<vcpu>', '<memtune><hard_limit>1</hard_limit></memtune><vcpu>'),
      ),
      'CONFIG_UNSUPPORTED',
    );
    const ro = await connect('qemu:///session', { driverOptions: driverOptions(), readonly: true });
    conns.push(ro);
    await expectCode(ro.domainXMLToNative('qemu-argv', domainXml('vk-native')), 'OPERATION_DENIED');
    const test = await connect('test:///default');
    await expectCode(test.domainXMLToNative('qemu-argv', domainXml('vk-native')), 'NO_SUPPORT');
    await test.close();
  });

  it("the balloon's statistics period reaches the running device (qom-get)", async () => {
    const conn = await open();
    const uuid = 'd0d0d0d0-0000-4000-8000-00000000ba11';
    const xml = domainXml('vk-balloon', uuid).replace(
      '</devices>',
      "<memballoon model='virtio'><stats period='7'/></memballoon></devices>",
    );
    const dom = await conn.defineDomain(xml);
    await dom.start({ paused: true });
    // the driver holds QEMU's only monitor: let go of it to ask QEMU ourselves
    await conn.close();
    const qmp = await QmpClient.connect(monitorPathOf(join(roots.path, 'state'), uuid));
    try {
      const v = await qmp.execute('qom-get', {
        path: '/machine/peripheral/balloon0',
        property: 'guest-stats-polling-interval',
      });
      expect(v).toBe(7);
    } finally {
      await qmp.close();
    }
  });

  it('a new connection re-attaches a guest that kept running after close', async () => {
    const first = await open();
    const transientId = (await first.createDomain(domainXml('vk-transient-kept'))).id;
    const dom = await first.defineDomain(domainXml('vk-reattach'));
    await dom.start();
    await dom.suspend();
    const id = dom.id;
    const pid = qemuPid('vk-reattach');
    await first.close();
    // closing detached: the guests still run
    expect(qemuProcessesMentioning(roots.path)).toContain(pid);
    expect(qemuProcessesMentioning(roots.path)).toHaveLength(2);

    const second = await open();
    const ev = record(second);
    const again = await second.lookupDomain('vk-reattach');
    expect(again.id).toBe(id);
    expect(await again.getState()).toEqual({ state: 'paused', reason: 'user' });
    expect(getAttr(parseXml(await again.getXML()), 'id')).toBe(String(id));
    await again.resume();
    await again.destroy();
    expect(await again.getState()).toEqual({ state: 'shutoff', reason: 'destroyed' });
    // ids keep counting up, as a daemon's do
    await again.start();
    expect(again.id).toBeGreaterThan(id);
    await tick();
    expect(ev.list.slice(0, 3)).toEqual([
      `vk-reattach:resumed/unpaused/${id}`,
      `vk-reattach:shutdown/host/${id}`,
      'vk-reattach:stopped/destroyed/-1',
    ]);
    // a transient guest comes back transient, and is gone once destroyed
    const transient = await second.lookupDomain('vk-transient-kept');
    expect(transient.id).toBe(transientId);
    expect(await transient.isPersistent()).toBe(false);
    await transient.destroy();
    await expectCode(second.lookupDomain('vk-transient-kept'), 'NO_DOMAIN');
  });
});
