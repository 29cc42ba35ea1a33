/**
 * A unix virtio channel defined without a path, through the runs of one
 * guest on real QEMU (TCG, a diskless guest that SeaBIOS keeps waiting).
 * libvirt's rules, read from its QEMU driver: a start makes the socket up in
 * the run's directory (`domain-<id>-<name>/<target name>`) and the live XML
 * shows it with the port's state; what another run starts from (a save
 * image, a snapshot's `<domain>`) has the made-up paths and the states
 * taken out again, so each run listens in its own directory; a definition
 * made from the live XML loses the path of a named channel only, as
 * libvirt recognises made-up paths by the target's name. `live-xml-libvirt.test.ts` compares the live form with
 * libvirt 9.0's own.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  QEMU_NOTE,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';

const AGENT = 'org.qemu.guest_agent.0';

const guestXml = (name: string, disk: string) => `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator>
    <channel type='unix'><target type='virtio' name='${AGENT}'/></channel>
    <channel type='unix'><target type='virtio'/></channel>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>
    <memballoon model='none'/>
  </devices>
</domain>`;

/** The `<source>` paths of the channels, and their ports' states, of an XML. */
function channelFacts(xml: string): { paths: string[]; states: string[] } {
  const channels = [...xml.matchAll(/<channel type='unix'>([\s\S]*?)<\/channel>/g)].map((m) => m[1] ?? '');
  return {
    paths: channels.flatMap((c) => [...(/<source mode='bind' path='([^']+)'\/>/.exec(c)?.slice(1, 2) ?? [])]),
    states: channels.flatMap((c) => [...(/ state='(\w+)'/.exec(c)?.slice(1, 2) ?? [])]),
  };
}

let roots: TestRoots | undefined;
let conn: Connection | undefined;

afterAll(async () => {
  for (const d of (await conn?.listDomains({ active: true })) ?? []) await d.destroy().catch(() => {});
  await conn?.close();
  if (roots) for (const pid of qemuProcessesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
  roots?.remove();
});

describe.skipIf(!HAS_QEMU)(`channel sockets without a path, run after run${QEMU_NOTE}`, () => {
  let dom: Domain;
  let state: string;
  let firstPaths: string[];

  it("a start listens in the run's directory; the live XML names both sockets, ports disconnected", async () => {
    roots = tempRoots('vk-chsock-');
    state = join(roots.path, 'state');
    conn = await connect('qemu:///session', {
      driverOptions: {
        cacheDir: null,
        runDir: join(roots.path, 'rundir'),
        stateDir: state,
        configDir: join(roots.path, 'config'),
        logDir: join(roots.path, 'log'),
        emulators: [QEMU_BINARY],
      },
    });
    // a qcow2 disk to hold the internal snapshot below; SeaBIOS finds nothing to boot on it
    const disk = join(roots.path, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
    dom = await conn.defineDomain(guestXml('vk-chsock', disk));
    await dom.start();
    const xml = await dom.getXML();
    const run = join(state, 'qemu', `domain-${/<domain type='qemu' id='(\d+)'/.exec(xml)?.[1]}-vk-chsock`);
    const live = channelFacts(xml);
    // the unnamed one after its virtio-serial address (controller 0, bus 0, port 2)
    expect(live.paths).toEqual([`${run}/${AGENT}`, `${run}/vioser-00-00-02.sock`]);
    for (const p of live.paths) expect(existsSync(p), p).toBe(true);
    // nothing in the guest has a port open (SeaBIOS only)
    expect(live.states).toEqual(['disconnected', 'disconnected']);
    // the definition has neither
    expect(channelFacts(await dom.getXML({ inactive: true }))).toEqual({ paths: [], states: [] });
    firstPaths = live.paths;
  });

  it("a definition made from the live XML drops the agent's made-up path (libvirt's inactive parse)", async () => {
    const copy = (await dom.getXML()).replace(/<name>vk-chsock<\/name>/, '<name>vk-chsock-copy</name>');
    const withoutIds = copy.replace(/<uuid>[^<]*<\/uuid>/, '').replace(/ id='\d+'/, '');
    const other = await conn!.defineDomain(withoutIds);
    // libvirt recognises a made-up path by the target's name: the unnamed channel's path stays
    expect(channelFacts(await other.getXML({ inactive: true }))).toEqual({
      paths: [firstPaths[1]],
      states: [],
    });
    await other.undefine();
  });

  it('a snapshot keeps the definition without them, and its revert listens where the running guest does', async () => {
    await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
    const snapXml = await dom.getSnapshotXML('s1');
    expect(snapXml).toContain(`name='${AGENT}'`);
    expect(channelFacts(snapXml)).toEqual({ paths: [], states: [] });
    await dom.revertToSnapshot('s1');
    expect(channelFacts(await dom.getXML()).paths).toEqual(firstPaths);
    await dom.deleteSnapshot('s1');
  });

  it('a managed save image carries neither; the restore listens in its own run directory', async () => {
    await dom.managedSave();
    const image = readFileSync(join(state, 'qemu', 'save', 'vk-chsock.save')).toString('utf8');
    const header = image.slice(0, image.indexOf('</domain>') + '</domain>'.length);
    expect(header).toContain(`name='${AGENT}'`);
    expect(channelFacts(header)).toEqual({ paths: [], states: [] });
    await dom.start();
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'restored' });
    const xml = await dom.getXML();
    const run = join(state, 'qemu', `domain-${/<domain type='qemu' id='(\d+)'/.exec(xml)?.[1]}-vk-chsock`);
    const live = channelFacts(xml);
    expect(live.paths).toEqual([`${run}/${AGENT}`, `${run}/vioser-00-00-02.sock`]);
    expect(live.paths).not.toEqual(firstPaths);
    for (const p of live.paths) expect(existsSync(p), p).toBe(true);
    expect(live.states).toEqual(['disconnected', 'disconnected']);
  });
});
