/**
 * The guest agent of a real Linux guest: the tiny Linux of scripts/tiny-linux.ts
 * with Debian's qemu-ga (qemu-guest-agent) on its `org.qemu.guest_agent.0`
 * port, under qemu:///session with TCG. What the agent says is checked against
 * what the guest was given (its host name, os-release, kernel, MAC) and what
 * the host's own tools say (`qemu-ga --version`, the host clock).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AGENT_GUEST, buildTinyLinux, QEMU_GA, type TinyLinux } from '../../../scripts/tiny-linux.js';
import type { Connection } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import { VirError } from '../../../src/errors.js';
import { QEMU_BINARY, qemuProcessesMentioning, type TestRoots } from '../qemu-lifecycle/helpers.js';
import { GuestConsole, kernel, leftoversAfterAll, realGuestSkip, tinyLinuxOs } from '../real-guest.js';

const SKIP = realGuestSkip([!existsSync(QEMU_GA), `no ${QEMU_GA} (qemu-guest-agent)`]);
const BOOT_MS = 150_000;
const MAC = '52:54:00:a6:e0:01';

let roots: TestRoots;
let conn: Connection;
let dom: Domain;
let tiny: TinyLinux;
let guest: GuestConsole | undefined;
const leftovers = leftoversAfterAll();
let notConnectedYet: unknown;
let pausedXml = '';

function domainXml(): string {
  return `<domain type='qemu'>
  <name>vk-agent</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  ${tinyLinuxOs(tiny)}
  <features><acpi/></features>
  <cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model>
    <feature policy='require' name='ssse3'/><feature policy='require' name='sse4.1'/>
    <feature policy='require' name='sse4.2'/></cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    <interface type='user'><mac address='${MAC}'/><model type='virtio'/></interface>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <serial type='pty'/>
    <console type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>`;
}

async function until<T>(what: string, ms: number, fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw new Error(`${what}: ${String(err)}; console:\n${guest?.text ?? ''}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof VirError ? err.code : String(err);
  }
}

describe.skipIf(SKIP !== '')(
  `the guest agent of a Linux guest (qemu-ga)${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    beforeAll(async () => {
      roots = leftovers.roots('vk-agent-');
      tiny = buildTinyLinux(kernel(), { agent: true, cacheDir: join(roots.path, 'cache') });
      conn = await leftovers.connect(roots.path);
      dom = await conn.defineDomain(domainXml());
      await dom.start({ paused: true });
      guest = leftovers.console(await GuestConsole.open(dom));
      pausedXml = await dom.getXML();
      // running, but nothing in the guest has the port open yet: refused at once, not waited for
      await dom.resume();
      notConnectedYet = await codeOf(dom.agent.ping({ timeout: 600_000 }));
      await until('the agent answers', BOOT_MS, () => dom.agent.ping({ timeout: 2000 }));
    }, BOOT_MS + 30_000);

    it('before the guest opens its port, a call is AGENT_UNRESPONSIVE (QEMU said the port is closed)', () => {
      expect(notConnectedYet).toBe('AGENT_UNRESPONSIVE');
    });

    it('the live XML follows the port: disconnected at start, connected once qemu-ga opens it; the definition has neither', async () => {
      const port = (xml: string) =>
        /<target type='virtio' name='org.qemu.guest_agent.0'( state='\w+')?\/>/.exec(xml)?.[1];
      expect(port(pausedXml)).toBe(" state='disconnected'");
      // the socket the start made up for the channel, in the run's directory
      expect(pausedXml).toMatch(
        /<source mode='bind' path='[^']*\/domain-\d+-vk-agent[^/']*\/org\.qemu\.guest_agent\.0'\/>/,
      );
      expect(port(await dom.getXML())).toBe(" state='connected'");
      const inactive = await dom.getXML({ inactive: true });
      expect(port(inactive)).toBe(undefined);
      expect(inactive).not.toMatch(/path='[^']*org\.qemu\.guest_agent\.0'/);
    });

    it('the host name, as the guest set it, both as dom.agent and as getHostname({ source })', async () => {
      expect(await dom.agent.getHostname()).toBe(AGENT_GUEST.hostname);
      expect(await dom.getHostname({ source: 'agent' })).toBe(AGENT_GUEST.hostname);
      // no <interface type='network'>, so no lease to take a name from (libvirt: VIR_ERR_NO_HOSTNAME)
      expect(await codeOf(dom.getHostname({ source: 'lease' }))).toBe('NO_HOSTNAME');
    });

    it("the OS: the guest's os-release, the kernel that booted, the architecture", async () => {
      const os = await dom.agent.getOsInfo();
      expect(os).toMatchObject({
        id: 'virtkit-tiny',
        name: 'virtkit tiny',
        versionId: '1',
        kernelRelease: tiny.kernel.version,
        machine: 'x86_64',
      });
    });

    it("the interfaces: the NIC with the definition's MAC, and lo", async () => {
      const ifaces = await dom.interfaceAddresses({ source: 'agent' });
      expect(ifaces.map((i) => i.hwaddr)).toContain(MAC);
      expect(ifaces.map((i) => i.name)).toContain('lo');
      // a user-mode NIC is on no virtual network: libvirt's lease source lists nothing for it
      expect(await dom.interfaceAddresses({ source: 'lease' })).toEqual([]);
      // the host's ARP table, read here as the driver reads it: user networking puts no entry there
      const arp = readFileSync('/proc/net/arp', 'utf8').toLowerCase().includes(MAC);
      const fromArp = await dom.interfaceAddresses({ source: 'arp' });
      expect(fromArp.map((i) => i.hwaddr)).toEqual(arp ? [MAC] : []);
    });

    it("the guest's clock is the host's (the RTC starts from it), and can be set and synced", async () => {
      const t = await dom.agent.getTime();
      expect(Math.abs(t.seconds - Date.now() / 1000)).toBeLessThan(120);
      expect(t.nseconds).toBeGreaterThanOrEqual(0);
      expect(t.nseconds).toBeLessThan(1e9);
      // sync: the system clock from the RTC, which QEMU started at the host's time
      await dom.agent.setTime({ sync: true });
      expect(Math.abs((await dom.agent.getTime()).seconds - Date.now() / 1000)).toBeLessThan(120);
      await dom.agent.setTime({ seconds: 2_000_000_000, nseconds: 5 });
      const later = await dom.agent.getTime();
      expect(later.seconds).toBeGreaterThanOrEqual(2_000_000_000);
      expect(later.seconds).toBeLessThan(2_000_000_000 + 120);
    });

    it('freeze and thaw: as many thawed as frozen, the agent then thawed; an unknown mountpoint skipped', async () => {
      // the tiny guest's filesystems (rootfs, proc, sysfs, devtmpfs) have nothing to freeze
      const frozen = await dom.agent.fsFreeze();
      expect(frozen).toBeGreaterThanOrEqual(0);
      expect(await dom.agent.fsThaw()).toBe(frozen);
      expect(JSON.parse(await dom.agent.command('{"execute":"guest-fsfreeze-status"}'))).toEqual({
        return: 'thawed',
      });
      // qemu-ga skips a mountpoint it does not have
      expect(await dom.agent.fsFreeze(['/no/such/mount'])).toBe(0);
      await dom.agent.fsThaw();
      expect(await codeOf(dom.agent.fsThaw(['/']))).toBe('ARGUMENT_UNSUPPORTED');
      expect(Array.isArray(await dom.agent.fsInfo())).toBe(true);
    });

    it("passthrough: guest-info gives the agent's version as the host's qemu-ga says it, and taints", async () => {
      const version = /(\d+\.\d+\.\d+)/.exec(execFileSync(QEMU_GA, ['--version'], { encoding: 'utf8' }))?.[1];
      const reply = JSON.parse(await dom.agent.command('{"execute":"guest-info"}')) as {
        return: { version: string };
      };
      expect(reply.return.version).toBe(version);
      const log = readFileSync(join(roots.path, 'log', 'qemu', 'vk-agent.log'), 'utf8');
      expect(log).toContain('is tainted: custom-ga-command');
      expect(await codeOf(dom.agent.command('{"execute":"guest-no-such-command"}'))).toBe(
        'OPERATION_UNSUPPORTED',
      );
    });

    it('a reply that comes too late is AGENT_COMMAND_TIMEOUT, and the next call syncs past it', async () => {
      // A stopped QEMU cannot pass the command on, so the deadline passes for sure (a 1 ms
      // deadline alone was met by a fast host); once it runs again the guest's late reply
      // arrives and must not be taken for the next command's.
      const pid = qemuProcessesMentioning(roots.path)[0];
      if (pid === undefined) throw new Error('no QEMU process found');
      process.kill(pid, 'SIGSTOP');
      try {
        expect(await codeOf(dom.agent.command('{"execute":"guest-get-osinfo"}', { timeout: 300 }))).toBe(
          'AGENT_COMMAND_TIMEOUT',
        );
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      expect(await dom.agent.getHostname()).toBe(AGENT_GUEST.hostname);
    });

    it('a password the agent fails to set is not in the error, nor in the domain log', async () => {
      const secret = 'Vk-s3cret-never-logged';
      const err = await dom.agent.setUserPassword('nosuchuser', secret).catch((e: unknown) => e);
      if (err instanceof Error) expect(err.message).not.toContain(secret);
      const log = readFileSync(join(roots.path, 'log', 'qemu', 'vk-agent.log'), 'utf8');
      expect(log).not.toContain(secret);
      expect(log).not.toContain(Buffer.from(secret).toString('base64'));
    });

    it("shutdown with mode 'agent' powers the guest off through guest-shutdown", async () => {
      await dom.shutdown({ mode: 'agent', timeout: 60_000 });
      expect((await dom.getState()).state).toBe('shutoff');
      expect(await codeOf(dom.agent.ping())).toBe('OPERATION_INVALID');
    }, 90_000);
  },
);

it.skipIf(SKIP === '')(`skipped: ${SKIP}`, () => {});
