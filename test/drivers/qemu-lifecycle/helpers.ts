/**
 * Helpers for the lifecycle tests: tiny real guests, boot sectors that make
 * the guest act (power off, wait for the ACPI button, panic, reboot), and a
 * check that no QEMU of ours outlives a test.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import { runnerGuestFromDef } from '../../../src/drivers/qemu/domains/index.js';
import {
  type LifecycleAction,
  type RunnerCommand,
  type RunnerEvent,
  type RunnerGuest,
  type RunnerRoots,
  runnerPaths,
} from '../../../src/drivers/qemu/lifecycle/index.js';
import { QemuCapsCache } from '../../../src/drivers/qemu/probe/index.js';
import type { QemuCaps } from '../../../src/drivers/qemu/probe/qemu-caps.js';

export const QEMU_BINARY = process.env.VIRTKIT_TEST_QEMU ?? '/usr/bin/qemu-system-x86_64';

export const HAS_QEMU = (() => {
  try {
    execFileSync(QEMU_BINARY, ['--version'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
})();
export const QEMU_NOTE = HAS_QEMU ? '' : ` (skipped: ${QEMU_BINARY} not installed)`;

/**
 * TCG by default: these guests run a few instructions of boot sector, and
 * TCG gets there in tens of milliseconds while nested KVM takes seconds in
 * the firmware. VIRTKIT_TEST_ACCEL=kvm switches.
 */
export const VIRT_TYPE: 'kvm' | 'qemu' = process.env.VIRTKIT_TEST_ACCEL === 'kvm' ? 'kvm' : 'qemu';

/**
 * Real-mode boot sectors, assembled by hand (16-bit x86):
 * - poweroff: write SLP_EN with S5 to the ACPI PM1a control port (0x604).
 * - acpi: enable the power button event (PM1a_EN, 0x602), write 'R' to a
 *   debug console at port 0x780 (0x402 is SeaBIOS's, 0x510 fw_cfg's) to say it listens, poll the button status bit
 *   (PM1a_STS, 0x600), then power off as above: a guest that honours
 *   system_powerdown.
 * - s3: like poweroff but with sleep type 1, which QEMU's PIIX4 takes as
 *   suspend to RAM.
 * - panic: write 1 to the pvpanic port (0x505).
 * - reboot: pulse the reset line through the keyboard controller (0xFE to 0x64).
 * Each ends in `hlt; jmp hlt`.
 */
const PROGRAMS = {
  poweroff: [0xfa, 0xba, 0x04, 0x06, 0xb8, 0x00, 0x20, 0xef, 0xf4, 0xeb, 0xfd],
  acpi: [
    0xfa, 0xba, 0x02, 0x06, 0xb8, 0x00, 0x01, 0xef, 0xba, 0x80, 0x07, 0xb0, 0x52, 0xee, 0xba, 0x00, 0x06,
    0xed, 0xa9, 0x00, 0x01, 0x74, 0xf7, 0xba, 0x04, 0x06, 0xb8, 0x00, 0x20, 0xef, 0xf4, 0xeb, 0xfd,
  ],
  s3: [0xfa, 0xba, 0x04, 0x06, 0xb8, 0x00, 0x24, 0xef, 0xf4, 0xeb, 0xfd],
  panic: [0xfa, 0xba, 0x05, 0x05, 0xb0, 0x01, 0xee, 0xf4, 0xeb, 0xfd],
  reboot: [0xfa, 0xb0, 0xfe, 0xe6, 0x64, 0xf4, 0xeb, 0xfd],
} as const;

export type BootProgram = keyof typeof PROGRAMS;

export function writeBootImage(path: string, program: BootProgram): string {
  const img = Buffer.alloc(512);
  Buffer.from(PROGRAMS[program]).copy(img);
  img[510] = 0x55;
  img[511] = 0xaa;
  writeFileSync(path, img);
  return path;
}

/** QEMU's option escaping, written again here so the test does not trust the code under test. */
function esc(v: string): string {
  return v.split(',').join(',,');
}

export function bootDiskArgs(imagePath: string): string[] {
  return ['-drive', `file=${esc(imagePath)},format=raw,if=ide`];
}

/** Boot-sector disk plus a debug console file the `acpi` program writes 'R' to when it listens. */
export function acpiGuestArgs(
  dir: string,
  imagePath: string,
): { args: string[]; ready(count?: number): Promise<void> } {
  const consoleFile = join(dir, `${imagePath.split('/').pop()}.con`);
  writeFileSync(consoleFile, '');
  return {
    args: [
      ...bootDiskArgs(writeBootImage(imagePath, 'acpi')),
      '-chardev',
      `file,id=dbgcon,path=${esc(consoleFile)}`,
      '-device',
      'isa-debugcon,iobase=0x780,chardev=dbgcon',
    ],
    async ready(count = 1) {
      const deadline = Date.now() + 10_000;
      while (readFileSync(consoleFile, 'utf8').split('R').length - 1 < count) {
        if (Date.now() > deadline) throw new Error('guest never listened for the power button');
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

export interface TestRoots {
  readonly path: string;
  readonly stateRoot: string;
  readonly logRoot: string;
  remove(): void;
}

export function tempRoots(prefix = 'vk-life-'): TestRoots {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    stateRoot: join(path, 'run'),
    logRoot: join(path, 'log'),
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** What a test guest differs in; each maps to the domain XML element libvirt users would write. */
export interface TestGuestOptions {
  name?: string;
  uuid?: string;
  virtType?: 'kvm' | 'qemu';
  memoryKiB?: number;
  currentMemoryKiB?: number;
  vcpus?: number;
  machine?: string;
  /** `host` (host-passthrough), `max` (maximum), or `Model,+f,-g` (custom, require/disable). */
  cpu?: string;
  /** `<cpu check>`; default libvirt's (partial), `none` switches the runner's feature check off. */
  cpuCheck?: 'none' | 'partial' | 'full';
  emulator?: string;
  onPoweroff?: LifecycleAction;
  onReboot?: LifecycleAction;
  onCrash?: LifecycleAction;
  /** A virtio balloon (default) or `<memballoon model='none'/>`. */
  memballoon?: boolean;
  /** More QEMU arguments, through libvirt's `<qemu:commandline>` pass-through. */
  extraArgs?: readonly string[];
  /** Replaces `<vcpu>` (with `<vcpus>` and a `<cpu>` topology, say). */
  vcpuXml?: string;
}

function xmlEscape(v: string): string {
  // A raw newline in an attribute would be read back as a space (XML attribute normalisation).
  return v
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll("'", '&apos;')
    .replaceAll('\n', '&#10;');
}

function cpuXml(cpu: string | undefined, check: string | undefined): string {
  if (cpu === undefined) return '';
  if (cpu === 'host') return "<cpu mode='host-passthrough'/>";
  if (cpu === 'max') return "<cpu mode='maximum'/>";
  const [model = '', ...flags] = cpu.split(',');
  const features = flags
    .map(
      (f) =>
        `<feature policy='${f.startsWith('-') ? 'disable' : 'require'}' name='${xmlEscape(f.slice(1))}'/>`,
    )
    .join('');
  const checkAttr = check ? ` check='${check}'` : '';
  return `<cpu mode='custom' match='exact'${checkAttr}><model>${xmlEscape(model)}</model>${features}</cpu>`;
}

let counter = 0;
/** The domain XML of a small diskless test guest. */
export function testDomainXml(o: TestGuestOptions = {}): string {
  counter++;
  const hex = (counter + process.pid * 1000).toString(16).padStart(12, '0').slice(-12);
  const name = o.name ?? `vk-test-${counter}`;
  const uuid = o.uuid ?? `c0ffee00-0000-4000-8000-${hex}`;
  const mem = o.memoryKiB ?? 16 * 1024;
  const current =
    o.currentMemoryKiB !== undefined ? `<currentMemory unit='KiB'>${o.currentMemoryKiB}</currentMemory>` : '';
  const args = (o.extraArgs ?? []).map((a) => `<qemu:arg value='${xmlEscape(a)}'/>`).join('');
  return `<domain type='${o.virtType ?? VIRT_TYPE}' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>${xmlEscape(name)}</name>
  <uuid>${uuid}</uuid>
  <memory unit='KiB'>${mem}</memory>${current}
  ${o.vcpuXml ?? `<vcpu>${o.vcpus ?? 1}</vcpu>`}
  <os><type arch='x86_64' machine='${xmlEscape(o.machine ?? 'pc')}'>hvm</type></os>
  <features><acpi/></features>
  ${cpuXml(o.cpu, o.cpuCheck)}
  <on_poweroff>${o.onPoweroff ?? 'destroy'}</on_poweroff>
  <on_reboot>${o.onReboot ?? 'restart'}</on_reboot>
  <on_crash>${o.onCrash ?? 'destroy'}</on_crash>
  <devices>
    <emulator>${xmlEscape(o.emulator ?? QEMU_BINARY)}</emulator>
    <memballoon model='${o.memballoon === false ? 'none' : 'virtio'}'/>
  </devices>${args ? `\n  <qemu:commandline>${args}</qemu:commandline>` : ''}
</domain>`;
}

let caps: Promise<QemuCaps> | undefined;
/** The installed QEMU's caps, probed once per test file (the command line depends on its version). */
export function testCaps(): Promise<QemuCaps> {
  caps ??= (async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'vk-caps-'));
    try {
      return (
        await new QemuCapsCache({ dir: null, probe: { runDir }, kvm: async () => false }).get(QEMU_BINARY)
      ).caps;
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  })();
  return caps;
}

export interface TestGuest {
  readonly guest: RunnerGuest;
  readonly command: RunnerCommand;
}

/**
 * A test guest the way the qemu driver starts one: domain XML, `DomainDef`,
 * the runner's view of it, and `buildCommandLine` for the runner's files.
 */
export async function testGuest(roots: RunnerRoots, o: TestGuestOptions = {}): Promise<TestGuest> {
  const def = DomainDef.fromXML(testDomainXml(o));
  const guest = runnerGuestFromDef(def);
  const paths = runnerPaths(roots, guest);
  const command = buildCommandLine(def, await testCaps(), {
    domainDir: paths.runDir,
    monitor: { path: paths.monitorSocket },
  });
  return { guest, command };
}

/** Pids of live QEMU processes whose command line mentions `marker`. */
export function qemuProcessesMentioning(marker: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes('qemu-system') && cmd.includes(marker) && state !== '') out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Collects events and waits for one that matches. */
export class EventLog {
  readonly events: RunnerEvent[] = [];
  readonly #waiters: Array<{ match: (e: RunnerEvent) => boolean; resolve: (e: RunnerEvent) => void }> = [];

  readonly listener = (e: RunnerEvent): void => {
    this.events.push(e);
    for (const w of [...this.#waiters]) {
      if (w.match(e)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  };

  /** Lifecycle events as `event/detail`. */
  get lifecycle(): string[] {
    return this.events.flatMap((e) => (e.type === 'lifecycle' ? [`${e.event}/${e.detail}`] : []));
  }

  /** Lifecycle and reboot events, in order. */
  get sequence(): string[] {
    return this.events.flatMap((e) =>
      e.type === 'lifecycle' ? [`${e.event}/${e.detail}`] : e.type === 'reboot' ? ['reboot'] : [],
    );
  }

  /** Waits for the `nth` event that matches (a boot's `resumed/unpaused` is the first of its kind). */
  wait(match: string | ((e: RunnerEvent) => boolean), timeoutMs = 10_000, nth = 1): Promise<RunnerEvent> {
    const matches =
      typeof match === 'string'
        ? (e: RunnerEvent) =>
            (e.type === 'lifecycle' && `${e.event}/${e.detail}` === match) ||
            (e.type === match && match === 'reboot')
        : match;
    let count = 0;
    const fn = (e: RunnerEvent): boolean => matches(e) && ++count >= nth;
    const seen = this.events.find(fn);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`no event ${String(match)} within ${timeoutMs} ms; saw ${this.sequence.join(', ')}`),
          ),
        timeoutMs,
      );
      this.#waiters.push({
        match: fn,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }
}

/** The monitor socket of the running guest `uuid`, as its status file under `stateRoot` records it. */
export function monitorPathOf(stateRoot: string, uuid: string): string {
  const dir = join(stateRoot, 'qemu');
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.xml')) continue;
    const text = readFileSync(join(dir, f), 'utf8');
    if (!text.includes(uuid)) continue;
    const m = /<monitor path='([^']+)'|<monitor path="([^"]+)"/.exec(text);
    const path = m?.[1] ?? m?.[2];
    if (path) return path.replaceAll('&apos;', "'").replaceAll('&quot;', '"').replaceAll('&amp;', '&');
  }
  throw new Error(`no status file under ${dir} for ${uuid}`);
}
