/**
 * What the "consumed or refused" work newly puts on the command line, read
 * back from a real qemu-system-x86_64 (TCG, paused at -S): a PCI expander
 * bus's first bus number and NUMA node (qom-get on the pxb), and the I/O
 * threads a bare `<iothreads>` count adds to a partial `<iothreadids>`
 * (qom-list of /objects); and a SPICE password set with what happens to
 * connected clients (`connected`), which QEMU takes at set_password.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { probeQemu } from '../../../src/drivers/qemu/probe/probe.js';
import { hasFlag, type QemuCaps } from '../../../src/drivers/qemu/probe/qemu-caps.js';
import { QmpClient } from '../../../src/drivers/qemu/qmp/index.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE } from '../qemu/helpers.js';

describe.skipIf(!HAS_QEMU)(`real QEMU reads back what the definition asked for${QEMU_NOTE}`, () => {
  let caps: QemuCaps;
  let dir: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vk-consumed-'));
    caps = await probeQemu(QEMU_BINARY, { runDir: dir, kvm: false });
  }, 60_000);

  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  async function startPaused(xml: string) {
    const def = applyQemuDefaults(DomainDef.fromXML(xml), caps);
    const monitor = join(dir, `mon${children.length}.sock`);
    const cl = buildCommandLine(def, caps, { domainDir: dir, monitor: { path: monitor } });
    const { env, argv } = cl;
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
      monitorCommands: cl.monitorCommands ?? [],
      async stop() {
        await qmp.close();
        child.kill('SIGKILL');
        await exited;
      },
    };
  }

  const guest = (top: string, devices: string) => `<domain type='qemu'>
  <name>vk-consumed</name>
  <memory unit='MiB'>64</memory>
  <vcpu>2</vcpu>
  ${top}
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>${devices}<memballoon model='none'/></devices>
</domain>`;

  it('gives a PCI expander bus its <target busNr> and <node> (bus_nr, numa_node)', async () => {
    const vm = await startPaused(
      guest(
        "<cpu><numa><cell id='0' cpus='0' memory='32' unit='MiB'/><cell id='1' cpus='1' memory='32' unit='MiB'/></numa></cpu>",
        "<controller type='pci' index='0' model='pci-root'/><controller type='pci' index='1' model='pci-expander-bus'><model name='pxb'/><target busNr='254'><node>1</node></target></controller>",
      ),
    );
    try {
      const get = (property: string) =>
        vm.qmp.execute('qom-get', { path: '/machine/peripheral/pci.1', property });
      expect(await get('bus_nr')).toBe(254);
      expect(await get('numa_node')).toBe(1);
    } finally {
      await vm.stop();
    }
  });

  it('creates every thread <iothreads> counts, the unlisted ones with the lowest free ids', async () => {
    const vm = await startPaused(
      guest("<iothreads>3</iothreads><iothreadids><iothread id='5'/></iothreadids>", ''),
    );
    try {
      const objects = await vm.qmp.execute<Array<{ name: string; type: string }>>('qom-list', {
        path: '/objects',
      });
      const threads = objects
        .filter((o) => o.type === 'child<iothread>')
        .map((o) => o.name)
        .sort();
      expect(threads).toEqual(['iothread1', 'iothread2', 'iothread5']);
    } finally {
      await vm.stop();
    }
  });

  it("sets a SPICE password with <graphics connected> (QEMU's set_password takes it)", async (ctx) => {
    if (!hasFlag(caps, 'spice')) ctx.skip('this QEMU has no SPICE');
    const vm = await startPaused(
      guest(
        '',
        "<graphics type='spice' passwd='pa,ss' connected='disconnect'><listen type='socket'/></graphics>",
      ),
    );
    try {
      const set = vm.monitorCommands.find((c) => c.execute === 'set_password');
      expect(set?.arguments).toEqual({ protocol: 'spice', password: 'pa,ss', connected: 'disconnect' });
      for (const c of vm.monitorCommands) await vm.qmp.execute(c.execute, c.arguments);
      const spice = await vm.qmp.execute<{ auth?: string }>('query-spice');
      expect(spice.auth).toBe('spice');
    } finally {
      await vm.stop();
    }
  });
});
