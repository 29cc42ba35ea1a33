/**
 * The runner against real QEMU: tiny diskless (or boot-sector) guests in a
 * temporary state/log root, one at a time.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  QemuDomainRunner,
  type RunnerCommand,
  type RunnerGuest,
  type RunnerOptions,
  type StartOptions,
} from '../../../src/drivers/qemu/lifecycle/index.js';
import { QmpClient } from '../../../src/drivers/qemu/qmp/index.js';
import { isVirError } from '../../../src/errors.js';
import { firstChild, getAttr, parseXml } from '../../../src/xml/index.js';
import {
  acpiGuestArgs,
  type BootProgram,
  bootDiskArgs,
  EventLog,
  HAS_QEMU,
  QEMU_NOTE,
  qemuProcessesMentioning,
  type TestGuestOptions,
  type TestRoots,
  tempRoots,
  testGuest,
  VIRT_TYPE,
  writeBootImage,
} from './helpers.js';

let roots: TestRoots;
const runners: QemuDomainRunner[] = [];

beforeAll(() => {
  roots = tempRoots();
});

afterEach(async () => {
  for (const r of runners.splice(0)) {
    if (r.isActive) await r.destroy({ graceMs: 0 }).catch(() => {});
    await r.detach();
  }
});

afterAll(() => {
  // No QEMU of ours (running or zombie) may outlive the suite, nor a monitor socket.
  expect(qemuProcessesMentioning(roots.path)).toEqual([]);
  const sockets = readdirSync(roots.path, { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('monitor.sock'),
  );
  expect(sockets).toEqual([]);
  roots.remove();
});

function options(extra: Partial<RunnerOptions> = {}): RunnerOptions {
  return { stateRoot: roots.stateRoot, logRoot: roots.logRoot, startTimeoutMs: 10_000, ...extra };
}

function boot(program: BootProgram, file = `${program}.img`): string[] {
  mkdirSync(join(roots.path, 'img'), { recursive: true });
  return bootDiskArgs(writeBootImage(join(roots.path, 'img', file), program));
}

function acpiGuest(file = 'acpi.img') {
  mkdirSync(join(roots.path, 'img'), { recursive: true });
  return acpiGuestArgs(join(roots.path, 'img'), join(roots.path, 'img', file));
}

/** A runner that starts with the command line `buildCommandLine` made for its guest. */
class TestRunner extends QemuDomainRunner {
  constructor(
    guest: RunnerGuest,
    opts: RunnerOptions,
    readonly command: RunnerCommand,
  ) {
    super(guest, opts);
  }

  override start(opts: Omit<StartOptions, 'command'> & { command?: RunnerCommand } = {}): Promise<void> {
    return super.start({ command: this.command, ...opts });
  }
}

async function runner(o: TestGuestOptions = {}, extra: Partial<RunnerOptions> = {}) {
  const opts = options(extra);
  const { guest, command } = await testGuest(opts, o);
  const r = new TestRunner(guest, opts, command);
  const log = new EventLog();
  r.subscribe(log.listener);
  runners.push(r);
  return { r, log };
}

/** Asks the guest's QEMU directly, on a second connection we open ourselves after detaching. */
async function askQemu<T>(r: QemuDomainRunner, command: string): Promise<T> {
  const status = parseXml(readFileSync(r.statusPath, 'utf8'));
  const monitor = firstChild(status, 'monitor');
  const path = monitor && getAttr(monitor, 'path');
  if (!path) throw new Error('no monitor path in status');
  await r.detach();
  const qmp = await QmpClient.connect(path);
  try {
    return await qmp.execute<T>(command);
  } finally {
    await qmp.close();
  }
}

describe.skipIf(!HAS_QEMU)(`QemuDomainRunner with real QEMU${QEMU_NOTE}`, () => {
  it('starts paused, resumes, and reports running/booted with a started event', async () => {
    const { r, log } = await runner();
    await r.start();
    expect(r.getState()).toEqual({ state: 'running', reason: 'booted' });
    expect(log.lifecycle).toEqual(['resumed/unpaused', 'started/booted']);
    expect(r.ref.id).toBeGreaterThan(0);
    const argv = readFileSync(`/proc/${r.pid}/cmdline`, 'utf8').split('\0');
    expect(argv).toContain('-S');
    const status = readFileSync(r.statusPath, 'utf8');
    expect(status).toContain(`pid='${r.pid}'`);
    expect(status).toContain("state='running'");
    expect(readFileSync(r.logPath, 'utf8')).toMatch(/starting up\n.*qemu-system-x86_64 .*-S/);
    const info = r.getInfo();
    expect(info).toMatchObject({ state: 'running', maxMem: 16384, memory: 16384, nrVirtCpu: 1 });
    expect(typeof info.cpuTime).toBe('bigint');
  });

  it('gets names and paths with commas, quotes, equals signs (and a disk path with a newline) to QEMU intact', async () => {
    const name = `we,ird "na=me" 'x'`;
    // buildCommandLine refuses control characters in the paths it writes, as libvirt does.
    await expect(runner({ name }, { stateRoot: join(roots.path, 'st\nate') })).rejects.toMatchObject({
      code: 'XML_DETAIL',
      field: 'paths.domainDir',
    });
    const weirdRoot = join(roots.path, 'st,a te "q"');
    const disk = boot('poweroff', 'po,wer\n"off".img');
    const { r, log } = await runner(
      { name, extraArgs: disk },
      {
        stateRoot: weirdRoot,
        logRoot: join(roots.path, 'lo,g'),
      },
    );
    await r.start({ paused: true });
    expect(existsSync(join(weirdRoot, 'qemu', `${name}.xml`))).toBe(true);
    // QEMU reports the name it parsed from our escaped -name option.
    const reply = await askQemu<{ name: string }>(r, 'query-name');
    expect(reply.name).toBe(name);
    // Re-attach, and let the guest run its boot sector from the disk with the odd path: it powers off.
    const again = await QemuDomainRunner.reattach(
      name,
      options({ stateRoot: weirdRoot, logRoot: join(roots.path, 'lo,g') }),
    );
    runners.push(again);
    again.subscribe(log.listener);
    expect(again.getState()).toEqual({ state: 'paused', reason: 'user' });
    await again.resume();
    await log.wait('stopped/shutdown');
    expect(again.getState()).toEqual({ state: 'shutoff', reason: 'shutdown' });
    expect(existsSync(join(roots.path, 'lo,g', 'qemu', `${name}.log`))).toBe(true);
  });

  it('delivers events through an async iterator that ends with its signal', async () => {
    const { r } = await runner();
    const ac = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const e of r.events({ signal: ac.signal })) {
        if (e.type === 'lifecycle') seen.push(`${e.event}/${e.detail}`);
        if (seen.length === 5) ac.abort();
      }
    })();
    await r.start();
    await r.suspend();
    await r.destroy();
    await reading;
    expect(seen).toEqual([
      'resumed/unpaused',
      'started/booted',
      'suspended/paused',
      'shutdown/host',
      'stopped/destroyed',
    ]);
  });

  it('keeps the live XML in the status file and honours an aborted signal before starting', async () => {
    const { r } = await runner({ cpu: 'qemu64,+ssse3', currentMemoryKiB: 12288 });
    await expect(r.start({ signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'OPERATION_ABORTED',
    });
    expect(r.pid).toBeUndefined();
    await r.start();
    const status = parseXml(readFileSync(r.statusPath, 'utf8'));
    const domain = firstChild(status, 'domain');
    expect(domain && getAttr(domain, 'id')).toBe(String(r.ref.id));
    const xml = r.getXml();
    expect(xml).toContain("<currentMemory unit='KiB'>12288</currentMemory>");
    expect(xml).toContain("<feature policy='require' name='ssse3'/>");
    expect(QemuDomainRunner.listStatus(roots)).toContain(r.name);
  });

  it('suspends and resumes with libvirt reasons and events', async () => {
    const { r, log } = await runner();
    await r.start();
    await r.suspend();
    expect(r.getState()).toEqual({ state: 'paused', reason: 'user' });
    await r.suspend(); // already paused: nothing to do, as libvirt
    await r.resume();
    expect(r.getState()).toEqual({ state: 'running', reason: 'unpaused' });
    expect(log.lifecycle).toEqual([
      'resumed/unpaused',
      'started/booted',
      'suspended/paused',
      'resumed/unpaused',
    ]);
    expect(readFileSync(r.statusPath, 'utf8')).toContain("reason='unpaused'");
  });

  it('runs a q35 guest with two vCPUs through start, suspend, resume and destroy', async () => {
    const { r, log } = await runner({ machine: 'q35', vcpus: 2 });
    await r.start();
    await r.suspend();
    await r.resume();
    await r.destroy();
    expect(log.lifecycle).toEqual([
      'resumed/unpaused',
      'started/booted',
      'suspended/paused',
      'resumed/unpaused',
      'shutdown/host',
      'stopped/destroyed',
    ]);
  });

  it('plugs in enabled hot-pluggable vCPUs before the guest runs (libvirt cpu-hotplug-startup)', async () => {
    const { r } = await runner({
      vcpuXml: `<vcpu placement='static' current='3'>6</vcpu>
  <vcpus><vcpu id='0' enabled='yes' hotpluggable='no' order='1'/>
    <vcpu id='1' enabled='no' hotpluggable='yes'/><vcpu id='2' enabled='no' hotpluggable='yes'/>
    <vcpu id='3' enabled='no' hotpluggable='yes'/>
    <vcpu id='4' enabled='yes' hotpluggable='yes' order='2'/><vcpu id='5' enabled='yes' hotpluggable='yes' order='3'/>
  </vcpus>
  <cpu><topology sockets='3' cores='2' threads='1'/></cpu>`,
    });
    expect(r.command.argv[r.command.argv.indexOf('-smp') + 1]).toMatch(/^1,maxcpus=6,/);
    await r.start();
    const cpus = await askQemu<Array<{ 'qom-path': string; props: Record<string, number> }>>(
      r,
      'query-hotpluggable-cpus',
    );
    const present = cpus
      .filter((c) => c['qom-path'] !== undefined)
      .map((c) => `${c.props['socket-id']}/${c.props['core-id']}`)
      .sort();
    // vCPU 0 from -smp, vCPUs 4 and 5 (socket 2) plugged in
    expect(present).toEqual(['0/0', '2/0', '2/1']);
    // askQemu detached the runner: take the guest back so that it is destroyed
    runners.push(await QemuDomainRunner.reattach(r.guest.name, options()));
  });

  it('destroys: stopped/destroyed, files removed, process reaped', async () => {
    const { r, log } = await runner();
    await r.start();
    const pid = r.pid as number;
    await r.destroy();
    expect(r.getState()).toEqual({ state: 'shutoff', reason: 'destroyed' });
    expect(log.lifecycle).toEqual([
      'resumed/unpaused',
      'started/booted',
      'shutdown/host',
      'stopped/destroyed',
    ]);
    expect(existsSync(r.statusPath)).toBe(false);
    expect(readdirSync(join(roots.stateRoot, 'qemu')).filter((f) => f.includes(r.guest.uuid))).toEqual([]);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(readFileSync(r.logPath, 'utf8')).toContain('shutting down, reason=destroyed');
    await expect(r.destroy()).rejects.toMatchObject({ code: 'OPERATION_INVALID' });
    await expect(r.suspend()).rejects.toMatchObject({ code: 'OPERATION_INVALID' });
  });

  it('detects QEMU killed with SIGKILL: shutoff/crashed and a stopped/failed event', async () => {
    const { r, log } = await runner();
    await r.start();
    process.kill(r.pid as number, 'SIGKILL');
    await log.wait('stopped/failed');
    expect(r.getState()).toEqual({ state: 'shutoff', reason: 'crashed' });
    expect(existsSync(r.statusPath)).toBe(false);
  });

  it('QEMU stopped with SIGTERM by someone else: shutdown/host then stopped/shutdown', async () => {
    const { r, log } = await runner();
    await r.start();
    process.kill(r.pid as number, 'SIGTERM');
    await log.wait('stopped/shutdown');
    expect(log.lifecycle).toEqual([
      'resumed/unpaused',
      'started/booted',
      'shutdown/host',
      'stopped/shutdown',
    ]);
    expect(r.getState()).toEqual({ state: 'shutoff', reason: 'shutdown' });
  });

  it('a guest power-off with on_poweroff=destroy ends the guest: shutdown/guest then stopped/shutdown', async () => {
    const { r, log } = await runner({ extraArgs: boot('poweroff') });
    await r.start();
    await log.wait('stopped/shutdown');
    expect(log.lifecycle).toEqual([
      'resumed/unpaused',
      'started/booted',
      'shutdown/guest',
      'stopped/shutdown',
    ]);
    expect(r.getState()).toEqual({ state: 'shutoff', reason: 'shutdown' });
  });

  it('shutdown() presses the ACPI button and waits for the guest to power off', async () => {
    const guest = acpiGuest('acpi-1.img');
    const { r, log } = await runner({ extraArgs: guest.args });
    await r.start();
    await guest.ready();
    await r.shutdown({ timeoutMs: 10_000 });
    expect(r.getState()).toEqual({ state: 'shutoff', reason: 'shutdown' });
    expect(log.lifecycle).toEqual([
      'resumed/unpaused',
      'started/booted',
      'shutdown/guest',
      'stopped/shutdown',
    ]);
    expect(log.events.some((e) => e.type === 'monitor' && e.event.event === 'POWERDOWN')).toBe(true);
  });

  it('shutdown() of a guest that ignores the button times out, or destroys when asked', async () => {
    const { r, log } = await runner();
    await r.start();
    const err = await r.shutdown({ timeoutMs: 300 }).catch((e: unknown) => e);
    expect(isVirError(err, 'OPERATION_TIMEOUT')).toBe(true);
    expect(r.getState().state).toBe('running');
    const ac = new AbortController();
    const waiting = r.shutdown({ signal: ac.signal, timeoutMs: 60_000 });
    setTimeout(() => ac.abort(), 50);
    await expect(waiting).rejects.toMatchObject({ code: 'OPERATION_ABORTED' });
    await r.shutdown({ timeoutMs: 300, onTimeout: 'destroy' });
    expect(r.getState()).toEqual({ state: 'shutoff', reason: 'destroyed' });
    expect(log.lifecycle).toEqual([
      'resumed/unpaused',
      'started/booted',
      'shutdown/host',
      'stopped/destroyed',
    ]);
  });

  /**
   * Starts an ACPI guest and has `powerOff` press its button, for a power-off that comes back
   * as a reset (an on_poweroff=restart guest, or reboot()): both must show the guest's
   * shutdown, one reboot event and the guest running again.
   */
  async function powerOffAndReset(
    file: string,
    o: TestGuestOptions,
    powerOff: (r: TestRunner, log: EventLog) => Promise<void>,
  ) {
    const guest = acpiGuest(file);
    const { r, log } = await runner({ extraArgs: guest.args, ...o });
    await r.start();
    await guest.ready();
    await powerOff(r, log);
    expect(r.getState()).toEqual({ state: 'running', reason: 'booted' });
    expect(log.sequence).toEqual([
      'resumed/unpaused',
      'started/booted',
      'shutdown/guest',
      'reboot',
      'resumed/unpaused',
    ]);
    return { r, guest };
  }

  it('on_poweroff=restart resets the guest instead of ending it', async () => {
    const { r } = await powerOffAndReset('acpi-2.img', { onPoweroff: 'restart' }, (g) =>
      g.shutdown({ timeoutMs: 10_000 }),
    );
    expect(r.isActive).toBe(true);
  });

  it('reboot() powers the guest off through ACPI and resets it, as libvirt does', async () => {
    const { r, guest } = await powerOffAndReset('acpi-3.img', {}, async (g, log) => {
      await g.reboot();
      // reboot() returns once the button is pressed: the reset's resume comes after
      await log.wait('resumed/unpaused', 10_000, 2);
    });
    // The reset guest runs its boot sector again and still answers the button.
    await guest.ready(2);
    await r.shutdown({ timeoutMs: 10_000 });
    expect(r.getState()).toEqual({ state: 'shutoff', reason: 'shutdown' });
  });

  it('a guest suspending to RAM is pmsuspended; pmWakeup() brings it back', async () => {
    const { r, log } = await runner({ extraArgs: boot('s3') });
    await r.start();
    await log.wait('pmsuspended/memory');
    expect(r.getState()).toEqual({ state: 'pmsuspended', reason: 'unknown' });
    await expect(r.resume()).rejects.toMatchObject({ code: 'OPERATION_INVALID' });
    await r.pmWakeup();
    await log.wait('started/wakeup');
    expect(log.lifecycle.slice(0, 4)).toEqual([
      'resumed/unpaused',
      'started/booted',
      'pmsuspended/memory',
      'started/wakeup',
    ]);
    await r.destroy({ graceMs: 0 });
  });

  it('reset() emits a reboot event and keeps the guest running', async () => {
    const { r, log } = await runner();
    await r.start();
    await expect(r.pmWakeup()).rejects.toMatchObject({ code: 'OPERATION_INVALID' });
    await r.reset();
    await log.wait('reboot');
    expect(r.getState()).toEqual({ state: 'running', reason: 'booted' });
  });

  it('a guest reboot with on_reboot=destroy ends the guest; with restart it keeps resetting', async () => {
    const a = await runner({ extraArgs: boot('reboot'), onReboot: 'destroy' });
    await a.r.start();
    await a.log.wait('stopped/shutdown');
    expect(a.log.lifecycle).toEqual([
      'resumed/unpaused',
      'started/booted',
      'shutdown/guest',
      'stopped/shutdown',
    ]);

    const b = await runner({ extraArgs: boot('reboot') });
    await b.r.start();
    await b.log.wait('reboot');
    expect(b.r.getState().state).toBe('running');
    await b.r.destroy({ graceMs: 0 });
  });

  it('a guest panic: crashed/panicked, then on_crash decides (destroy, preserve)', async () => {
    const panicArgs = [...boot('panic'), '-device', 'pvpanic'];
    const a = await runner({ extraArgs: panicArgs });
    await a.r.start();
    await a.log.wait('stopped/crashed');
    expect(a.log.lifecycle).toEqual([
      'resumed/unpaused',
      'started/booted',
      'crashed/panicked',
      'stopped/crashed',
    ]);
    expect(a.r.getState()).toEqual({ state: 'shutoff', reason: 'crashed' });

    const b = await runner({ extraArgs: panicArgs, onCrash: 'preserve' });
    await b.r.start();
    await b.log.wait('crashed/panicked');
    expect(b.r.getState()).toEqual({ state: 'crashed', reason: 'panicked' });
    expect(b.r.isActive).toBe(true);
    await b.r.destroy();
    expect(b.log.lifecycle).toEqual([
      'resumed/unpaused',
      'started/booted',
      'crashed/panicked',
      'shutdown/host',
      'stopped/destroyed',
    ]);
  });

  it('on_crash=restart resets a panicked guest and runs it again', async () => {
    const { r, log } = await runner({
      extraArgs: [...boot('panic'), '-device', 'pvpanic'],
      onCrash: 'restart',
    });
    await r.start();
    await log.wait('resumed/unpaused', 10_000, 2);
    expect(log.sequence.slice(0, 5)).toEqual([
      'resumed/unpaused',
      'started/booted',
      'crashed/panicked',
      'reboot',
      'resumed/unpaused',
    ]);
    await r.destroy({ graceMs: 0 });
  });

  it('serialises racing calls: jobs never interleave and events follow call order', async () => {
    const trace: string[] = [];
    const { r, log } = await runner({}, { onJob: (job, phase) => trace.push(`${phase} ${job}`) });
    await r.start();
    await Promise.all([r.suspend(), r.resume(), r.suspend(), r.resume(), r.setMemory(8192), r.suspend()]);
    for (let i = 0; i < trace.length; i += 2) {
      expect(trace[i]?.startsWith('begin ')).toBe(true);
      expect(trace[i + 1]).toBe(`end ${trace[i]?.slice(6)}`);
    }
    expect(trace.filter((t) => t.startsWith('begin')).map((t) => t.slice(6))).toEqual([
      'start',
      'suspend',
      'resume',
      'suspend',
      'resume',
      'set-memory',
      'suspend',
    ]);
    expect(log.lifecycle).toEqual([
      'resumed/unpaused',
      'started/booted',
      'suspended/paused',
      'resumed/unpaused',
      'suspended/paused',
      'resumed/unpaused',
      'suspended/paused',
    ]);
    expect(r.getState()).toEqual({ state: 'paused', reason: 'user' });
  });

  it('setMemory drives the balloon within 1..maximum and needs a balloon device', async () => {
    const { r } = await runner({ currentMemoryKiB: 12288 });
    await r.start();
    expect(r.getInfo().memory).toBe(12288);
    await r.setMemory(8192);
    expect(r.getInfo().memory).toBe(8192);
    expect(readFileSync(r.statusPath, 'utf8')).toContain("balloonKiB='8192'");
    await expect(r.setMemory(32768)).rejects.toMatchObject({ code: 'INVALID_ARG', field: 'currentMemory' });
    const noBalloon = await runner({ memballoon: false });
    await noBalloon.r.start();
    await expect(noBalloon.r.setMemory(8192)).rejects.toMatchObject({ code: 'OPERATION_INVALID' });
  });

  it('rejects a pending call when QEMU dies mid-command, and destroys a hung QEMU', async () => {
    const { r, log } = await runner();
    await r.start();
    const pid = r.pid as number;
    process.kill(pid, 'SIGSTOP');
    const pending = r.suspend();
    const err = r.destroy({ graceMs: 200 });
    await expect(pending).rejects.toSatisfy((e: unknown) => isVirError(e));
    await err;
    expect(r.getState()).toEqual({ state: 'shutoff', reason: 'destroyed' });
    expect(log.lifecycle).toEqual(['resumed/unpaused', 'started/booted', 'stopped/destroyed']);
  });

  it('fails cleanly for an emulator that is not QEMU, a missing one, and a bad machine', async () => {
    for (const [emulator, pattern] of [
      ['/bin/false', /exited with status 1/],
      [join(roots.path, 'no-such-qemu'), /could not be run/],
    ] as const) {
      const { r, log } = await runner({ emulator });
      const err = await r.start().catch((e: unknown) => e);
      expect(isVirError(err, 'OPERATION_FAILED')).toBe(true);
      expect((err as Error).message).toMatch(pattern);
      expect(r.getState()).toEqual({ state: 'shutoff', reason: 'failed' });
      expect(existsSync(r.statusPath)).toBe(false);
      expect(log.lifecycle).toEqual([]);
    }
    const { r } = await runner({ machine: 'no-such-machine' });
    const err = await r.start().catch((e: unknown) => e);
    expect(isVirError(err, 'OPERATION_FAILED')).toBe(true);
    // QEMU's own complaint, from its stderr in our log, comes first; the command line is not repeated.
    expect((err as Error).message).toMatch(/^starting '[^']+': \S*qemu-system-\S+: unsupported machine type/);
    expect((err as Error).message).not.toContain('-nodefaults');
    expect(readFileSync(r.logPath, 'utf8')).toMatch(/unsupported machine type|no-such-machine/);

    const missingDisk = await runner({ extraArgs: bootDiskArgs(join(roots.path, 'no,such', 'disk.img')) });
    const diskErr = await missingDisk.r.start().catch((e: unknown) => e);
    expect(isVirError(diskErr, 'OPERATION_FAILED')).toBe(true);
    expect((diskErr as Error).message).toContain(join(roots.path, 'no,such', 'disk.img'));
    expect((diskErr as Error).message).toMatch(/No such file or directory/);
  });

  it("reports a guest that needs more memory than the host has with QEMU's reason", async () => {
    const { r } = await runner({ memoryKiB: 100 * 1024 ** 3 });
    const err = await r.start().catch((e: unknown) => e);
    expect(isVirError(err, 'OPERATION_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/cannot set up guest memory/);
    expect(existsSync(r.statusPath)).toBe(false);
  });

  it('refuses a CPU model the host cannot give in full, naming the missing features', async () => {
    const { r } = await runner({ cpu: 'Skylake-Server' });
    const err = await r.start().catch((e: unknown) => e);
    if (VIRT_TYPE === 'qemu') {
      expect(isVirError(err, 'CPU_INCOMPATIBLE')).toBe(true);
      expect((err as Error).message).toMatch(/features: .*\bpcid\b/);
      expect(r.getState()).toEqual({ state: 'shutoff', reason: 'failed' });
      expect(existsSync(r.statusPath)).toBe(false);
    }
    // Without enforce QEMU drops what it cannot do and starts.
    const lax = await runner({ cpu: 'Skylake-Server', cpuCheck: 'none' });
    await lax.r.start();
    expect(lax.r.getState().state).toBe('running');
  });

  it('refuses a second start while starting, and destroy cancels a start', async () => {
    const { r, log } = await runner();
    const first = r.start();
    await expect(r.start()).rejects.toMatchObject({ code: 'OPERATION_INVALID' });
    await first;
    await r.destroy();

    const b = await runner();
    const starting = b.r.start();
    await new Promise((res) => setTimeout(res, 5));
    if (b.r.pid !== undefined && !b.r.isActive) {
      await b.r.destroy();
      await expect(starting).rejects.toMatchObject({ code: 'OPERATION_ABORTED' });
      expect(b.r.getState()).toEqual({ state: 'shutoff', reason: 'destroyed' });
      expect(b.log.lifecycle).toEqual([]);
    } else {
      // The start won the race; the destroy is then an ordinary one.
      await starting;
      await b.r.destroy();
    }
    expect(existsSync(b.r.statusPath)).toBe(false);
    expect(log.lifecycle).toEqual([
      'resumed/unpaused',
      'started/booted',
      'shutdown/host',
      'stopped/destroyed',
    ]);
  });

  it('re-attaches after detach, carries on with events, and destroys', async () => {
    const { r } = await runner();
    await r.start();
    await r.suspend();
    const pid = r.pid;
    await r.detach();
    expect(QemuDomainRunner.listStatus(roots)).toContain(r.name);
    const again = await QemuDomainRunner.reattach(r.name, options());
    runners.push(again);
    const log = new EventLog();
    again.subscribe(log.listener);
    expect(again.pid).toBe(pid);
    expect(again.getState()).toEqual({ state: 'paused', reason: 'user' });
    await again.resume();
    process.kill(pid as number, 'SIGKILL');
    await log.wait('stopped/failed');
    expect(again.getState()).toEqual({ state: 'shutoff', reason: 'crashed' });
  });

  it('reports a guest that died while detached as shutoff/crashed and removes its stale files', async () => {
    const { r } = await runner();
    await r.start();
    const pid = r.pid as number;
    await r.detach();
    process.kill(pid, 'SIGKILL');
    while (existsSync(`/proc/${pid}/stat`) && !/\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')))
      await new Promise((res) => setTimeout(res, 10));
    const again = await QemuDomainRunner.reattach(r.name, options());
    expect(again.getState()).toEqual({ state: 'shutoff', reason: 'crashed' });
    expect(existsSync(r.statusPath)).toBe(false);
    await expect(QemuDomainRunner.reattach(r.name, options())).rejects.toMatchObject({ code: 'NO_DOMAIN' });
  });
});

describe.skipIf(!HAS_QEMU)(`re-attach from another Node process${QEMU_NOTE}`, () => {
  /** Starts a guest from a child Node process; resolves with QEMU's pid once the guest runs. */
  function startInChild(spec: { guest: RunnerGuest; command: RunnerCommand }, mode: 'exit' | 'wait') {
    const script = join(import.meta.dirname, 'start-guest-child.ts');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        script,
        JSON.stringify({ stateRoot: roots.stateRoot, logRoot: roots.logRoot, ...spec }),
        mode,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<void>((res) => child.once('exit', () => res()));
    const started = new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (s: string) => {
        out += s;
        const line = out.split('\n')[0];
        if (out.includes('\n') && line) resolve((JSON.parse(line) as { pid: number }).pid);
      });
      void exited.then(() => reject(new Error(`child exited before starting the guest: ${out}`)));
    });
    return { child, started, exited };
  }

  it('finds a guest started by a process that exited, and follows it to power-off', async () => {
    const guest = acpiGuest('acpi-child.img');
    const spec = await testGuest(roots, { extraArgs: guest.args });
    const { started, exited } = startInChild(spec, 'exit');
    const pid = await started;
    await exited;
    await guest.ready();
    const r = await QemuDomainRunner.reattach(spec.guest.name, options());
    runners.push(r);
    const log = new EventLog();
    r.subscribe(log.listener);
    expect(r.pid).toBe(pid);
    expect(r.getState()).toEqual({ state: 'running', reason: 'booted' });
    expect(r.getInfo().cpuTime).toBeGreaterThan(0n);
    // QEMU is not our child: its end is seen through the monitor and /proc.
    await r.shutdown({ timeoutMs: 10_000 });
    expect(log.lifecycle).toEqual(['shutdown/guest', 'stopped/shutdown']);
    expect(r.getState()).toEqual({ state: 'shutoff', reason: 'shutdown' });
  });

  it('finds a guest whose Node process was killed with SIGKILL, and destroys it', async () => {
    const spec = await testGuest(roots);
    const { child, started, exited } = startInChild(spec, 'wait');
    const pid = await started;
    child.kill('SIGKILL');
    await exited;
    // The old process held the only monitor connection; it is gone with it.
    const r = await QemuDomainRunner.reattach(spec.guest.name, options());
    runners.push(r);
    const log = new EventLog();
    r.subscribe(log.listener);
    expect(r.pid).toBe(pid);
    expect(r.getState().state).toBe('running');
    await r.destroy();
    expect(log.lifecycle).toEqual(['shutdown/host', 'stopped/destroyed']);
    expect(existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '').toBe(
      false,
    );
  });
});
