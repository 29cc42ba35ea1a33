/**
 * 9p and MTP shares, run by the real qemu-system-x86_64: a host directory
 * whose name has a comma and `=` must be the one QEMU's 9p backend opens
 * (it opens the root at start-up, so a misparsed path fails the start),
 * and the mount tag, MTP root and description must read back exactly.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
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

describe.skipIf(!HAS_QEMU)(`real QEMU takes our 9p and MTP shares${QEMU_NOTE}`, () => {
  let caps: QemuCaps;
  let probeDir: string;
  let dir: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    probeDir = mkdtempSync(join(tmpdir(), 'vk-probe-'));
    caps = await probeQemu(QEMU_BINARY, { runDir: probeDir, kvm: false });
    dir = mkdtempSync(join(tmpdir(), 'vk-fs-'));
  }, 60_000);

  afterAll(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    rmSync(probeDir, { recursive: true, force: true });
  });

  it('opens the hostile directory and keeps tag, root and description', async () => {
    const share = join(dir, 'sh,are=1');
    mkdirSync(share);
    const xml = `<domain type='qemu'>
  <name>fs</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <controller type='usb' model='piix3-uhci'/>
    <filesystem accessmode='mapped'><source dir='${xmlEscape(share)}'/><target dir='t,a=g'/></filesystem>
    <filesystem><driver type='mtp'/><source dir='${xmlEscape(share)}'/><target dir='d,1'/><readonly/></filesystem>
  </devices>
</domain>`;
    const def = applyQemuDefaults(DomainDef.fromXML(xml), caps);
    const monitor = join(dir, 'mon.sock');
    const cl = buildCommandLine(def, caps, { domainDir: dir, monitor: { path: monitor } });
    child = spawn(cl.argv[0]!, cl.argv.slice(1), { env: cl.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += String(d);
    });
    const deadline = Date.now() + 20_000;
    while (!existsSync(monitor) && child.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 25));
    expect(existsSync(monitor), `QEMU refused the command line: ${stderr}\n${cl.argv.join('\n')}`).toBe(true);
    const qmp = await QmpClient.connect(monitor, { retryForMs: 5_000 });
    try {
      const get = (path: string, property: string) => qmp.execute('qom-get', { path, property });
      expect(await get('/machine/peripheral/fs0/virtio-backend', 'mount_tag')).toBe('t,a=g');
      expect(await get('/machine/peripheral/fs0/virtio-backend', 'fsdev')).toBe('fsdev-fs0');
      expect(await get('/machine/peripheral/fs1', 'rootdir')).toBe(share);
      expect(await get('/machine/peripheral/fs1', 'desc')).toBe('d,1');
      expect(await get('/machine/peripheral/fs1', 'readonly')).toBe(true);
    } finally {
      await qmp.close();
      child.kill('SIGKILL');
    }
  }, 60_000);
});
