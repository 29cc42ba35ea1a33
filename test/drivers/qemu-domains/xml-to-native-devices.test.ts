/**
 * Differential: `domainXMLToNative('qemu-argv')` of a guest with a
 * `<vsock>` or a SCSI LUN host device against libvirt 9.0's `virsh
 * domxml-to-native qemu-argv` on a private libvirtd (same host QEMU), word
 * for word after the folding `native-argv.ts` does. libvirt's conversion
 * opens nothing on the host: a vsock gets `vhostfd` `-1` and the CID the
 * definition has (0 with `auto` and none); a LUN is named by the generic
 * device sysfs gives it, and a LUN the host lacks is refused by both. Our
 * own line for a LUN is also read with a sysfs copy that has one (the
 * driver's `sysRoot`), where the host has none. Skips visibly without
 * libvirtd, virsh or /usr/bin/qemu-system-x86_64.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import { HAS_QEMU, QEMU_BINARY } from '../qemu-lifecycle/helpers.js';
import { type Daemon, LIBVIRTD, startLibvirtd } from '../remote/libvirtd.js';
import { normalise, words } from './native-argv.js';

const VIRSH = spawnSync('virsh', ['--version'], { encoding: 'utf8' }).status === 0;
const READY = HAS_QEMU && LIBVIRTD !== undefined && VIRSH && QEMU_BINARY === '/usr/bin/qemu-system-x86_64';
const NOTE = READY ? '' : ' (skipped: needs libvirtd, virsh and /usr/bin/qemu-system-x86_64)';

/** A SCSI LUN of this host with a generic device (`h:b:t:u`), from sysfs; undefined without one. */
function hostLun(): { host: number; bus: number; target: number; unit: number } | undefined {
  const dir = '/sys/bus/scsi/devices';
  if (!existsSync(dir)) return undefined;
  for (const name of readdirSync(dir)) {
    const m = /^(\d+):(\d+):(\d+):(\d+)$/.exec(name);
    if (m && existsSync(join(dir, name, 'scsi_generic')))
      return { host: Number(m[1]), bus: Number(m[2]), target: Number(m[3]), unit: Number(m[4]) };
  }
  return undefined;
}

/** A SCSI host number no adapter of this host has. */
function absentHost(): number {
  let n = 90;
  while (existsSync(`/sys/class/scsi_host/host${n}`)) n++;
  return n;
}

function guest(name: string, devices: string): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>7e57ab1e-0000-4000-8000-${String(process.pid).padStart(12, '0')}</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    ${devices}
  </devices>
</domain>`;
}

function scsiHostdev(l: { host: number; bus: number; target: number; unit: number }): string {
  return `<hostdev mode='subsystem' type='scsi'>
      <source><adapter name='scsi_host${l.host}'/><address bus='${l.bus}' target='${l.target}' unit='${l.unit}'/></source>
    </hostdev>`;
}

describe.skipIf(!READY)(`domxml-to-native of vsock and SCSI host devices against libvirt 9.0${NOTE}`, () => {
  let daemon: Daemon;
  let conn: Connection;
  let fakeSys: Connection;
  const work = mkdtempSync(join(tmpdir(), 'vk-x2nd-'));
  chmodSync(work, 0o755);
  const options = (sub: string, extra: Record<string, string> = {}) => ({
    driverOptions: {
      cacheDir: null,
      runDir: join(work, sub, 'run'),
      stateDir: join(work, sub, 'state'),
      configDir: join(work, sub, 'config'),
      logDir: join(work, sub, 'log'),
      emulators: [QEMU_BINARY],
      ...extra,
    },
  });
  // a sysfs copy with one LUN, host 7, whose generic device is sg3
  const sys = join(work, 'sys');
  mkdirSync(join(sys, 'bus/scsi/devices/7:0:0:0/scsi_generic/sg3'), { recursive: true });
  beforeAll(async () => {
    daemon = await startLibvirtd();
    conn = await connect('qemu:///session', options('a'));
    fakeSys = await connect('qemu:///session', options('b', { sysRoot: sys }));
  });
  afterAll(async () => {
    await conn?.close();
    await fakeSys?.close();
    await daemon?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** Both sides' lines for the XML (libvirt's failure as `error: ...`). */
  async function both(name: string, xml: string): Promise<{ ours: string; theirs: string }> {
    const file = join(work, `${name}.xml`);
    writeFileSync(file, xml);
    chmodSync(file, 0o644);
    const r = spawnSync(
      'virsh',
      ['-c', `qemu+unix:///session?socket=${daemon.socket}`, 'domxml-to-native', 'qemu-argv', file],
      { encoding: 'utf8' },
    );
    const theirs = r.status === 0 ? r.stdout : `error: ${r.stderr.trim()}`;
    const ours = await conn.domainXMLToNative('qemu-argv', xml).then(
      (s) => s,
      (e: unknown) => `error: ${String(e)}`,
    );
    return { ours, theirs };
  }

  for (const [label, cid] of [
    ['a given CID', "<cid auto='no' address='7'/>"],
    ['an automatic CID', "<cid auto='yes'/>"],
    ['an automatic CID with an address', "<cid auto='yes' address='9'/>"],
  ] as const)
    it(`a vsock with ${label}: the same command line (vhostfd -1, nothing opened)`, async () => {
      const { ours, theirs } = await both(
        'vsock',
        guest('vk-x2n-vsock', `<vsock model='virtio'>${cid}</vsock>`),
      );
      expect(theirs).not.toMatch(/^error: /);
      expect(ours).not.toMatch(/^error: /);
      expect(normalise(ours, [work], false)).toEqual(normalise(theirs, [daemon.dir], false));
      expect(words(ours).find((w) => w.includes('vhost-vsock-pci'))).toContain('"vhostfd":"-1"');
    });

  it('a SCSI LUN of a host adapter: the same command line where the host has one, both refuse one it lacks', async () => {
    const lun = hostLun();
    const absent = { host: absentHost(), bus: 0, target: 0, unit: 0 };
    const missing = await both('scsi-absent', guest('vk-x2n-scsi', scsiHostdev(absent)));
    expect(missing.theirs).toMatch(/^error: /);
    expect(missing.ours).toMatch(/^error: /);
    expect(missing.ours).toContain(`scsi_host${absent.host}:0:0:0`);
    if (lun) {
      const { ours, theirs } = await both('scsi', guest('vk-x2n-scsi', scsiHostdev(lun)));
      expect(theirs).not.toMatch(/^error: /);
      expect(normalise(ours, [work], false)).toEqual(normalise(theirs, [daemon.dir], false));
    }
    // with a sysfs that has the LUN: QEMU is given /dev/ + the generic device's name, as libvirt gives it
    const line = await fakeSys.domainXMLToNative(
      'qemu-argv',
      guest('vk-x2n-scsi', scsiHostdev({ host: 7, bus: 0, target: 0, unit: 0 })),
    );
    const w = words(line);
    const backend = w.find((x) => x.includes('"driver":"host_device"'));
    expect(backend && JSON.parse(backend)).toMatchObject({ driver: 'host_device', filename: '/dev/sg3' });
    expect(w.find((x) => x.includes('"driver":"scsi-generic"'))).toBeDefined();
  });
});
