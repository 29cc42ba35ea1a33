/**
 * Character devices and VNC, run by the real qemu-system-x86_64: QEMU must
 * accept every chardev backend as we write it (it has no `tcp` or `unix`
 * backend: both are `socket`), read hostile paths back exactly, and report
 * VNC authentication once the password is set over QMP, never on argv.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { displayPorts } from '../../../src/drivers/qemu/domains/port-allocator.js';
import { probeQemu } from '../../../src/drivers/qemu/probe/probe.js';
import { hasFlag, type QemuCaps } from '../../../src/drivers/qemu/probe/qemu-caps.js';
import { QmpClient } from '../../../src/drivers/qemu/qmp/index.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE } from '../qemu/helpers.js';
import { xmlEscape } from './caps-fixture.js';

describe.skipIf(!HAS_QEMU)(`real QEMU takes our chardevs and VNC${QEMU_NOTE}`, () => {
  let caps: QemuCaps;
  let probeDir: string;
  let dir: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    probeDir = mkdtempSync(join(tmpdir(), 'vk-probe-'));
    caps = await probeQemu(QEMU_BINARY, { runDir: probeDir, kvm: false });
    dir = mkdtempSync(join(tmpdir(), `vk,chr 'q' `));
  }, 60_000);

  afterAll(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    rmSync(probeDir, { recursive: true, force: true });
  });

  it('starts with socket, udp, file, null and pty chardevs and a password-protected VNC', async () => {
    const sock = join(dir, 'serial,x=1.sock');
    const file = join(dir, 'out,put.log');
    const vncSock = join(dir, 'vnc.sock');
    const xml = `<domain type='qemu'>
  <name>chr</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <serial type='unix'><source mode='bind' path='${xmlEscape(sock)}'/></serial>
    <serial type='tcp'><source mode='bind' host='127.0.0.1' service='0'/><protocol type='telnet'/></serial>
    <serial type='udp'><source mode='bind' host='127.0.0.1' service='0'/><source mode='connect' host='127.0.0.1' service='9'/></serial>
    <serial type='file'><source path='${xmlEscape(file)}' append='on'/></serial>
    <channel type='null'><target type='virtio' name='org.example.null'/></channel>
    <channel type='tcp'><source mode='connect' host='127.0.0.1' service='9'><reconnect enabled='yes' timeout='5'/></source>
      <target type='virtio' name='org.example.tcp'/></channel>
    <graphics type='vnc' passwd='pa,ss=w'><listen type='socket' socket='${xmlEscape(vncSock)}'/></graphics>
  </devices>
</domain>`;
    const def = applyQemuDefaults(DomainDef.fromXML(xml), caps);
    const monitor = join(dir, 'mon.sock');
    const cl = buildCommandLine(def, caps, { domainDir: dir, monitor: { path: monitor } });
    expect(cl.argv.join('\n')).not.toContain('pa,ss=w');
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
      const chardevs = (await qmp.execute('query-chardev')) as Array<{ label: string; filename: string }>;
      const byLabel = Object.fromEntries(chardevs.map((c) => [c.label, c.filename]));
      expect(byLabel.charserial0).toContain(sock);
      expect(byLabel.charserial1).toMatch(/telnet:127\.0\.0\.1:\d+,server=on/);
      expect(byLabel.charserial2).toBe('udp');
      expect(byLabel).toHaveProperty('charserial3');
      expect(byLabel).toHaveProperty('charchannel0');
      expect(byLabel).toHaveProperty('charchannel1');
      expect(existsSync(file)).toBe(true);
      for (const c of cl.monitorCommands ?? []) await qmp.execute(c.execute, c.arguments);
      const vnc = (await qmp.execute('query-vnc-servers')) as Array<{ auth: string }>;
      expect(vnc[0]?.auth).toBe('vnc');
    } finally {
      await qmp.close();
      child.kill('SIGKILL');
    }
  }, 60_000);

  it('starts with usb-redir over tcp, unix and SPICE, a filter, and the hub their ports need', async (ctx) => {
    if (!hasFlag(caps, 'usb-redir')) ctx.skip('this QEMU has no usb-redir device');
    const spice = hasFlag(caps, 'spice');
    const sock = join(dir, 'redir,1.sock');
    const xml = `<domain type='qemu'>
  <name>redir</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <controller type='usb' index='0' model='piix3-uhci'/>
    <redirdev bus='usb' type='tcp'><source mode='bind' host='127.0.0.1' service='0'/></redirdev>
    <redirdev bus='usb' type='unix'><source mode='bind' path='${xmlEscape(sock)}'/><boot order='1'/></redirdev>
    ${spice ? "<redirdev bus='usb' type='spicevmc'/>" : ''}
    <redirfilter>
      <usbdev class='0x08' vendor='0x15E1' product='0x2007' version='1.10' allow='yes'/>
      <usbdev allow='no'/>
    </redirfilter>
    ${spice ? "<graphics type='spice' autoport='yes'><listen type='address' address='127.0.0.1'/></graphics>" : ''}
  </devices>
</domain>`;
    const def = applyQemuDefaults(DomainDef.fromXML(xml), caps);
    const monitor = join(dir, 'redir-mon.sock');
    const free = [await displayPorts.acquire(), await displayPorts.acquire()];
    const taken = [...free];
    const cl = buildCommandLine(def, caps, {
      domainDir: dir,
      monitor: { path: monitor },
      allocateDisplayPort: () => free.shift() ?? 0,
    });
    const proc = spawn(cl.argv[0]!, cl.argv.slice(1), { env: cl.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (d) => {
      stderr += String(d);
    });
    try {
      const deadline = Date.now() + 20_000;
      while (!existsSync(monitor) && proc.exitCode === null && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 25));
      expect(existsSync(monitor), `QEMU refused the command line: ${stderr}\n${cl.argv.join('\n')}`).toBe(
        true,
      );
      const qmp = await QmpClient.connect(monitor, { retryForMs: 5_000 });
      try {
        const chardevs = (await qmp.execute('query-chardev')) as Array<{ label: string; filename: string }>;
        const byLabel = Object.fromEntries(chardevs.map((c) => [c.label, c.filename]));
        expect(byLabel.charredir0).toMatch(/tcp:127\.0\.0\.1:\d+,server=on/);
        expect(byLabel.charredir1).toContain(sock);
        const get = (path: string, property: string) => qmp.execute('qom-get', { path, property });
        const n = spice ? 3 : 2;
        for (let i = 0; i < n; i++) {
          expect(await get(`/machine/peripheral/redir${i}`, 'type')).toBe('usb-redir');
          // QEMU keeps the filter as given: the rules, in order, first match wins.
          expect(await get(`/machine/peripheral/redir${i}`, 'filter')).toBe(
            '0x08:0x15E1:0x2007:0x0110:1|-1:-1:-1:-1:0',
          );
        }
        expect(await get('/machine/peripheral/redir1', 'bootindex')).toBe(1);
        // PIIX3's UHCI has two ports: a third USB device needs a hub, as libvirt adds one.
        if (spice) expect(await get('/machine/peripheral/hub0', 'type')).toBe('usb-hub');
        else console.log('qemu-system-x86_64 here has no SPICE: the spicevmc redirdev is not tried');
      } finally {
        await qmp.close();
      }
    } finally {
      proc.kill('SIGKILL');
      for (const p of taken) displayPorts.release(p);
    }
  }, 60_000);
});
