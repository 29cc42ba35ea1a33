/**
 * A real Linux guest under qemu:///session: the host's Debian kernel with a
 * busybox initramfs (scripts/tiny-linux.ts) boots with a virtio disk, a virtio NIC,
 * a virtio RNG, an emulated TPM (swtpm), a virtiofs share (virtiofsd) and a
 * serial console. The guest's /init prints what the kernel found; the test
 * reads it through openConsole() and checks each device is there, then
 * shuts the guest down with the ACPI power button as libvirt does.
 *
 * KVM when /dev/kvm opens, TCG otherwise (the bounded wait allows for it).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BOOT_MARKER,
  buildTinyLinux,
  findKernel,
  hasBusybox,
  REPORT_END,
  type TinyLinux,
} from '../../../scripts/tiny-linux.js';
import { type Connection, connect } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import type { AnyDomainEvent, ConsoleStream } from '../../../src/driver.js';
import { findVirtiofsd } from '../../../src/drivers/qemu/lifecycle/virtiofsd.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';

const KERNEL = findKernel();
const BUSYBOX_OK = hasBusybox();
/**
 * KVM only when it gives the guest the CPU this test asks for: a nested
 * /dev/kvm can open yet miss basic CPUID bits (pni, sse4.2 here), and QEMU
 * with `enforce` says so by exiting before the monitor answers.
 */
const KVM_OK = (() => {
  if (process.env.VIRTKIT_TEST_ACCEL === 'qemu') return false;
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
    // biome-ignore format: one QEMU invocation
    execFileSync(QEMU_BINARY, ['-accel', 'kvm', '-machine', 'q35', '-cpu', 'qemu64,ssse3=on,sse4.1=on,sse4.2=on,enforce', '-display', 'none', '-nodefaults', '-S', '-qmp', 'stdio'], {
      input: '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
      stdio: ['pipe', 'ignore', 'ignore'],
      timeout: 15_000,
    });
    return true;
  } catch {
    return false;
  }
})();
const HAS_QEMU_IMG = (() => {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const HAS_SWTPM = (() => {
  try {
    execFileSync('swtpm', ['socket', '--print-capabilities'], { stdio: 'ignore' });
    execFileSync('swtpm_setup', ['--print-capabilities'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const VIRTIOFSD = findVirtiofsd(['/usr/share/qemu/vhost-user', '/etc/qemu/vhost-user']);
const FS_OK = VIRTIOFSD !== undefined && process.getuid?.() === 0;

const SKIP = !HAS_QEMU
  ? `${QEMU_BINARY} not installed`
  : !KERNEL
    ? 'no readable /boot/vmlinuz-<version> with /lib/modules/<version> (linux-image-amd64)'
    : !BUSYBOX_OK
      ? 'no /bin/busybox (busybox-static)'
      : !HAS_QEMU_IMG
        ? 'no qemu-img'
        : '';
const TPM_NOTE = HAS_SWTPM ? '' : ' (skipped: swtpm and swtpm_setup are not installed)';
const FS_NOTE = FS_OK
  ? ''
  : VIRTIOFSD
    ? ' (skipped: here the share is served as root; unprivileged-helpers.test.ts boots one as a user)'
    : " (skipped: no vhost-user descriptor of type 'fs')";
const ACCEL = KVM_OK ? 'kvm' : 'qemu';
const BOOT_MS = KVM_OK ? 60_000 : 120_000;
const SHARE_TAG = 'vkshare';
const SHARE_TEXT = 'hello from the host';

let roots: TestRoots;
let conn: Connection;
let dom: Domain;
let tiny: TinyLinux;
let consoleStream: ConsoleStream | undefined;
let transcript = '';
const events: string[] = [];
let eventsDone: Promise<void> | undefined;

function domainXml(disk: string, share: string): string {
  const tpm = HAS_SWTPM ? "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>" : '';
  const fs = FS_OK
    ? `<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>
         <source dir='${share}'/><target dir='${SHARE_TAG}'/></filesystem>`
    : '';
  const memoryBacking = FS_OK
    ? "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"
    : '';
  // SSE4.2 alone would be a CPU no real one is: glibc's SSE4.2 string
  // functions in busybox use SSSE3 instructions too, so all three come together
  return `<domain type='${ACCEL}'>
  <name>vk-linux</name>
  <uuid>b0070000-0000-4000-8000-000000000001</uuid>
  <memory unit='MiB'>256</memory>
  ${memoryBacking}
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${tiny.kernel.image}</kernel>
    <initrd>${tiny.initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 rdinit=/init</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact' check='partial'>
    <model fallback='forbid'>qemu64</model>
    <feature policy='require' name='ssse3'/>
    <feature policy='require' name='sse4.1'/>
    <feature policy='require' name='sse4.2'/>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='user'><mac address='52:54:00:b0:07:01'/><model type='virtio'/></interface>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    ${tpm}
    ${fs}
    <serial type='pty'/>
    <console type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>`;
}

/** Waits until the console transcript holds `text`, failing with the transcript after `ms`. */
async function consoleUntil(text: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!transcript.includes(text)) {
    if (transcript.includes('Kernel panic'))
      throw new Error(`the guest kernel panicked before '${text}'; transcript:\n${transcript}`);
    if (Date.now() > end)
      throw new Error(`no '${text}' on the guest console within ${ms} ms; transcript:\n${transcript}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The value of the guest's "VK <key> ..." report line. */
function report(key: string): string {
  const line = transcript
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l.startsWith(`VK ${key} `) || l === `VK ${key}`);
  if (line === undefined) throw new Error(`no 'VK ${key}' line on the console; transcript:\n${transcript}`);
  return line.slice(`VK ${key}`.length).trim();
}

function ourProcesses(): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const zombie = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
      if (!zombie && cmd.includes(roots.path)) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe.skipIf(SKIP !== '')(`a Linux guest boots (${ACCEL})${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  beforeAll(async () => {
    roots = tempRoots('vk-boot-');
    if (!KERNEL) throw new Error('unreachable: no kernel');
    tiny = buildTinyLinux(KERNEL, {
      ...(FS_OK ? { share: SHARE_TAG } : {}),
      cacheDir: join(roots.path, 'cache'),
    });
    const disk = join(roots.path, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
    const share = join(roots.path, 'share');
    mkdirSync(share);
    writeFileSync(join(share, 'hello.txt'), `${SHARE_TEXT}\n`);
    conn = await connect('qemu:///session', {
      driverOptions: {
        cacheDir: null,
        runDir: join(roots.path, 'rundir'),
        stateDir: join(roots.path, 'state'),
        configDir: join(roots.path, 'config'),
        logDir: join(roots.path, 'log'),
        emulators: [QEMU_BINARY],
      },
    });
    const iter = conn.events() as AsyncIterable<AnyDomainEvent>;
    eventsDone = (async () => {
      for await (const e of iter) if (e.type === 'lifecycle') events.push(`${e.event}/${e.detail}`);
    })();
    dom = await conn.defineDomain(domainXml(disk, share));
    // paused first, so the console is attached before the kernel writes its first byte
    await dom.start({ paused: true });
    consoleStream = await dom.openConsole();
    consoleStream.on('data', (chunk: Buffer | string) => {
      transcript += chunk.toString();
    });
    await dom.resume();
    await consoleUntil(REPORT_END, BOOT_MS);
  }, BOOT_MS + 30_000);

  afterAll(async () => {
    try {
      consoleStream?.destroy();
      if (conn && !conn.isClosed) {
        for (const d of await conn.listDomains({ active: true })) await d.destroy().catch(() => {});
        await conn.close();
      }
      await eventsDone;
    } finally {
      for (const pid of qemuProcessesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
      for (const pid of ourProcesses()) process.kill(pid, 'SIGKILL');
      roots.remove();
    }
  }, 30_000);

  it('the kernel runs /init from the initramfs, and every module it needs loads', () => {
    expect(transcript).toContain(BOOT_MARKER);
    expect(transcript).not.toContain('VK insmod-failed');
    // the builder names drivers this kernel has neither built in nor as a module
    expect(tiny.plan.missing).toEqual([]);
  });

  it('the guest CPU is the model with the required features: qemu64 has no SSSE3 or SSE4 of its own', () => {
    const flags = report('cpu').split(/\s+/);
    expect(flags).toEqual(expect.arrayContaining(['fpu', 'lm', 'sse2', 'ssse3', 'sse4_1', 'sse4_2']));
  });

  it('the virtio disk is a block device (vda)', () => {
    expect(report('block').split(/\s+/)).toContain('vda');
  });

  it('the virtio NIC is there next to loopback', () => {
    const nics = report('net').split(/\s+/);
    expect(nics).toContain('lo');
    expect(nics.filter((n) => n !== 'lo')).toHaveLength(1);
  });

  it('the virtio RNG is the guest hwrng and gives bytes', () => {
    expect(report('hwrng')).toMatch(/^virtio_rng\.\d+ dev$/);
    expect(report('hwrng-bytes')).toBe('8');
  });

  it.skipIf(!HAS_SWTPM)(`the emulated TPM (tpm-crb on swtpm) is tpm0${TPM_NOTE}`, () => {
    expect(report('tpm').split(/\s+/)).toContain('tpm0');
  });

  it.skipIf(!FS_OK)(`the virtiofs share mounts by its tag and shows the host's file${FS_NOTE}`, () => {
    expect(report('share')).toBe(SHARE_TEXT);
  });

  it('shutdown() presses the ACPI power button: the guest powers off, shutoff/shutdown, event stopped/shutdown', async () => {
    expect(report('button')).toMatch(/^\/dev\/input\/event\d+$/);
    await dom.shutdown();
    const end = Date.now() + 30_000;
    let state = await dom.getState();
    while (state.state !== 'shutoff' && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      state = await dom.getState();
    }
    expect(state, `the guest did not power off; transcript:\n${transcript}`).toEqual({
      state: 'shutoff',
      reason: 'shutdown',
    });
    expect(transcript).toContain('VK power-button');
    for (let i = 0; i < 50 && !events.includes('stopped/shutdown'); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(events).toContain('started/booted');
    expect(events).toContain('stopped/shutdown');
    expect(qemuProcessesMentioning(roots.path)).toEqual([]);
  }, 45_000);
});
