/**
 * The produced argv, run by the real qemu-system-x86_64: QEMU must accept
 * every option (it creates its monitor socket only after parsing them all),
 * and the hostile name and disk path must arrive in QEMU intact.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { probeQemu } from '../../../src/drivers/qemu/probe/probe.js';
import type { QemuCaps } from '../../../src/drivers/qemu/probe/qemu-caps.js';
import { QmpClient } from '../../../src/drivers/qemu/qmp/index.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE } from '../qemu/helpers.js';
import { xmlEscape } from './caps-fixture.js';

const HAS_QEMU_IMG = (() => {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!HAS_QEMU || !HAS_QEMU_IMG)(`real QEMU accepts the command line${QEMU_NOTE}`, () => {
  let caps: QemuCaps;
  let probeDir: string;
  let dir: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    probeDir = mkdtempSync(join(tmpdir(), 'vk-probe-'));
    caps = await probeQemu(QEMU_BINARY, { runDir: probeDir, kvm: false });
    // A directory with a comma, a space and a quote in its name: every path below inherits them.
    dir = mkdtempSync(join(tmpdir(), `vk,cmd 'q' `));
  }, 60_000);

  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    rmSync(probeDir, { recursive: true, force: true });
  });

  async function startPaused(xml: string) {
    const def = applyQemuDefaults(DomainDef.fromXML(xml), caps);
    const monitor = join(dir, `mon,${children.length}.sock`);
    const { env, argv } = buildCommandLine(def, caps, { domainDir: dir, monitor: { path: monitor } });
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += String(d);
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 20_000;
    while (!existsSync(monitor) && child.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 25));
    if (!existsSync(monitor)) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`QEMU refused the command line: ${stderr}\n${argv.join('\n')}`);
    }
    const qmp = await QmpClient.connect(monitor, { retryForMs: 5_000 });
    return {
      qmp,
      async stop() {
        await qmp.close();
        child.kill('SIGKILL');
        await exited;
      },
    };
  }

  it('starts a tiny paused i440fx guest with a hostile name, qcow2 disk path, NIC and serial', async () => {
    const img = join(dir, `disk,1 "x".qcow2`);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', img, '4M']);
    const base = join(dir, 'base,1.raw');
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', base, '4M']);
    const overlay = join(dir, 'over lay.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'raw', overlay]);
    const name = `vk,a b'c"d=e`;
    const vm = await startPaused(`<domain type='qemu'>
  <name>${xmlEscape(name)}</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/><source file='${xmlEscape(img)}'/>
      <target dev='vda' bus='virtio'/><serial>s,1</serial></disk>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${xmlEscape(overlay)}'/>
      <backingStore type='file'><format type='raw'/><source file='${xmlEscape(base)}'/><backingStore/></backingStore>
      <target dev='vdb' bus='virtio'/></disk>
    <interface type='user'><model type='virtio'/></interface>
    <serial type='pty'/>
    <channel type='pty'><target type='virtio' name='org.example.a,b'/></channel>
  </devices>
</domain>`);
    try {
      expect(await vm.qmp.execute('query-name')).toEqual({ name });
      expect(await vm.qmp.execute('query-status')).toMatchObject({ status: 'prelaunch', running: false });
      const blocks = (await vm.qmp.execute('query-named-block-nodes')) as Array<{
        'node-name': string;
        file: string;
        ro: boolean;
      }>;
      const node = (n: string) => blocks.find((b) => b['node-name'] === n);
      // vda is numbered after vdb's chain (vdb top 1, its backing 2, vda 3), as libvirt does.
      expect(node('libvirt-3-storage')?.file).toBe(img);
      expect(node('libvirt-1-storage')?.file).toBe(overlay);
      expect(node('libvirt-2-storage')).toMatchObject({ file: base, ro: true });
    } finally {
      await vm.stop();
    }
  }, 60_000);

  it('gives the guest CPU exactly the features asked for, nothing injected (qom-get on the vCPU)', async () => {
    const vm = await startPaused(`<domain type='qemu'>
  <name>cpu-guest</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><pmu state='off'/></features>
  <cpu mode='custom' match='exact'><model>qemu64</model>
    <feature policy='require' name='pclmuldq'/><feature policy='disable' name='sse4.2'/></cpu>
</domain>`);
    try {
      const cpus = (await vm.qmp.execute('query-cpus-fast')) as Array<{ 'qom-path': string }>;
      const path = cpus[0]?.['qom-path'] ?? '';
      const get = (property: string) => vm.qmp.execute('qom-get', { path, property });
      // libvirt's 'pclmuldq' is QEMU's 'pclmulqdq'
      expect(await get('pclmulqdq')).toBe(true);
      expect(await get('sse4.2')).toBe(false);
      expect(await get('pmu')).toBe(false);
      expect(await get('model-id')).toMatch(/QEMU Virtual CPU/);
    } finally {
      await vm.stop();
    }
  }, 60_000);

  it('starts a tiny paused q35 guest (root ports, xhci, SATA, iTCO watchdog)', async () => {
    const vm = await startPaused(`<domain type='qemu'>
  <name>q35-guest</name>
  <memory unit='MiB'>32</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <features><acpi/></features>
  <cpu><topology sockets='1' cores='2' threads='1'/></cpu>
  <devices><input type='tablet' bus='usb'/><rng model='virtio'><backend model='random'>/dev/urandom</backend></rng></devices>
</domain>`);
    try {
      // Devices made with -device id=... sit under /machine/peripheral (PCI bus numbers are not
      // known before the firmware runs, so query-pci cannot show what is behind the root ports).
      const peripherals = (await vm.qmp.execute('qom-list', { path: '/machine/peripheral' })) as Array<{
        name: string;
        type: string;
      }>;
      const byId = Object.fromEntries(peripherals.map((p) => [p.name, p.type]));
      // xhci, balloon and rng each behind a root port of their own, plus the spare port
      expect(byId).toMatchObject({
        'pci.1': 'child<pcie-root-port>',
        'pci.2': 'child<pcie-root-port>',
        'pci.3': 'child<pcie-root-port>',
        'pci.4': 'child<pcie-root-port>',
        usb: 'child<qemu-xhci>',
        balloon0: 'child<virtio-balloon-pci>',
        rng0: 'child<virtio-rng-pci>',
      });
      expect(await vm.qmp.execute('query-cpus-fast')).toHaveLength(2);
    } finally {
      await vm.stop();
    }
  }, 60_000);
});
