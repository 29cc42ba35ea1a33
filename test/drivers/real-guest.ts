/**
 * The harness of the tests that run real QEMU under the QEMU driver, most
 * of them booting a real Linux guest (the tiny Linux of
 * scripts/tiny-linux.ts): whether the host can run one, the connection on
 * a test's own roots, the guest's serial console as a transcript to wait
 * on and type into, and the leftovers (consoles, connections, QEMU
 * processes, roots) taken down in afterAll ({@link leftoversAfterAll}) or
 * after each test ({@link rootsEachTest}, {@link eventHostsEachTest} for
 * tests whose "hosts" record their lifecycle events).
 *
 * Every wait polls a condition with a generous bound and fails with the
 * console transcript, so a slow host (TCG) is slower, never red.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, expect } from 'vitest';
import { findKernel, hasBusybox, type Kernel, REPORT_END, type TinyLinux } from '../../scripts/tiny-linux.js';
import { type Connection, connect } from '../../src/connection.js';
import type { Domain } from '../../src/domain.js';
import type { AnyDomainEvent, ConsoleStream } from '../../src/driver.js';
import type { QemuDriverOptions } from '../../src/driver-options.js';
import { isVirError, type VirError } from '../../src/errors.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from './qemu-lifecycle/helpers.js';

/** The host kernel the tiny Linux boots, when there is a readable one with its modules. */
export const KERNEL: Kernel | undefined = findKernel();

/** The kernel, for code that runs only when {@link realGuestSkip} said nothing. */
export function kernel(): Kernel {
  if (!KERNEL) throw new Error('unreachable: no kernel (the test should have been skipped)');
  return KERNEL;
}

/**
 * Why a real guest cannot boot here, or '' when it can: QEMU, a kernel,
 * busybox, then each of `more` (`[lacking, reason]`) in order.
 */
export function realGuestSkip(...more: ReadonlyArray<readonly [boolean, string]>): string {
  if (!HAS_QEMU) return `${QEMU_BINARY} not installed`;
  if (!KERNEL) return 'no readable /boot/vmlinuz-<version> with /lib/modules/<version> (linux-image-amd64)';
  if (!hasBusybox()) return 'no /bin/busybox (busybox-static)';
  return more.find(([lacking]) => lacking)?.[1] ?? '';
}

/** Whether `tool --version`-like `args` runs (qemu-img, swtpm). */
export function runs(tool: string, args: readonly string[] = ['--version']): boolean {
  try {
    execFileSync(tool, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether KVM really runs a q35 guest with the `-cpu` value `cpu`: a nested
 * /dev/kvm can open yet miss CPUID bits, which QEMU with `enforce` says by
 * exiting before its monitor answers. `VIRTKIT_TEST_ACCEL=qemu` forces TCG.
 */
export function kvmRuns(cpu: string): boolean {
  if (process.env.VIRTKIT_TEST_ACCEL === 'qemu') return false;
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
    // biome-ignore format: one QEMU invocation
    execFileSync(QEMU_BINARY, ['-accel', 'kvm', '-machine', 'q35', '-cpu', cpu, '-display', 'none', '-nodefaults', '-S', '-qmp', 'stdio'], {
      input: '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
      stdio: ['pipe', 'ignore', 'ignore'],
      timeout: 15_000,
    });
    return true;
  } catch {
    return false;
  }
}

/** The `-cpu` value of {@link SSE42_CPU_XML}, for {@link kvmRuns}. */
export const SSE42_CPU = 'qemu64,ssse3=on,sse4.1=on,sse4.2=on,enforce';

/**
 * qemu64 with SSSE3, SSE4.1 and SSE4.2 required: glibc's SSE4.2 string
 * functions in busybox use SSSE3 instructions too, so all three come
 * together (SSE4.2 alone would be a CPU no real one is).
 */
export function sse42CpuXml(check?: 'partial' | 'none'): string {
  return `<cpu mode='custom' match='exact'${check ? ` check='${check}'` : ''}>
    <model fallback='forbid'>qemu64</model>
    <feature policy='require' name='ssse3'/>
    <feature policy='require' name='sse4.1'/>
    <feature policy='require' name='sse4.2'/>
  </cpu>`;
}

/** The `<os>` that boots the tiny Linux directly, its console on the first serial port. */
export function tinyLinuxOs(tiny: TinyLinux): string {
  return `<os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${tiny.kernel.image}</kernel>
    <initrd>${tiny.initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 rdinit=/init</cmdline>
  </os>`;
}

/**
 * The driver options that put a qemu: connection's roots (run, state,
 * config, log) all under `root`, with no caps cache: what
 * {@link connectUnder} opens with, and what a child process on the same
 * roots is given.
 */
export function driverOptionsUnder(root: string) {
  return {
    cacheDir: null,
    runDir: join(root, 'rundir'),
    stateDir: join(root, 'state'),
    configDir: join(root, 'config'),
    logDir: join(root, 'log'),
    emulators: [QEMU_BINARY],
  };
}

/**
 * A qemu: connection whose roots (run, state, config, log) are all under
 * `root`, no caps cache; `options` replace any of these (a deeper state root).
 */
export function connectUnder(
  root: string,
  uri = 'qemu:///session',
  options: QemuDriverOptions = {},
): Promise<Connection> {
  return connect(uri, { driverOptions: { ...driverOptionsUnder(root), ...options } });
}

/**
 * Closes each connection still open, its running guests destroyed first
 * (then `beforeClose`: networks, pools); a failure is no reason to leave
 * the others open, so the first one is thrown once all are done.
 */
export async function closeAll(
  conns: Iterable<Connection>,
  beforeClose?: (conn: Connection) => Promise<void>,
): Promise<void> {
  let first: unknown;
  for (const c of conns) {
    if (c.isClosed) continue;
    try {
      for (const d of await c.listDomains({ active: true })) await d.destroy().catch(() => {});
      await beforeClose?.(c);
      await c.close();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

/** Kills (SIGKILL) the QEMU processes whose command line mentions `root`. */
export function killQemuUnder(root: string): void {
  for (const pid of qemuProcessesMentioning(root)) process.kill(pid, 'SIGKILL');
}

/** A guest's serial console as the text it has said so far, to wait on and type into. */
export class GuestConsole {
  #text = '';
  #asked = 0;

  constructor(readonly stream: ConsoleStream) {
    stream.on('data', (chunk: Buffer | string) => {
      this.#text += chunk.toString();
    });
  }

  /** Opens the console of `dom`. */
  static async open(dom: Domain): Promise<GuestConsole> {
    return new GuestConsole(await dom.openConsole());
  }

  /** All the console said so far. */
  get text(): string {
    return this.#text;
  }

  /** Types `line` and a newline. */
  type(line: string): void {
    this.stream.write(`${line}\n`);
  }

  /**
   * Waits until `done` holds (a text: until the transcript contains it),
   * failing with the transcript (its last `tail` characters, when given)
   * after `ms`, or at once when the guest kernel panics.
   */
  async until(
    done: string | (() => boolean),
    ms: number,
    what = typeof done === 'string' ? `'${done}'` : 'answer',
    tail?: number,
  ): Promise<void> {
    const test = typeof done === 'string' ? () => this.#text.includes(done) : done;
    const end = Date.now() + ms;
    while (!test()) {
      const shown = tail === undefined ? this.#text : this.#text.slice(-tail);
      if (this.#text.includes('Kernel panic'))
        throw new Error(`the guest kernel panicked before ${what}; transcript:\n${shown}`);
      if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms; transcript:\n${shown}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The first console line (trimmed) that starts with `prefix`. */
  line(prefix: string): string | undefined {
    return this.#text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l.startsWith(prefix));
  }

  /** The value of the guest's `VK <key> ...` report line ('' for a bare `VK <key>`), or undefined. */
  report(key: string): string | undefined {
    const line = this.#text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l.startsWith(`VK ${key} `) || l === `VK ${key}`);
    return line?.slice(`VK ${key}`.length).trim();
  }

  /**
   * The `hotplug` guest's answer to a fresh tag typed on the console: the
   * words after `VK <key>-<tag>` for each of `keys`, once the line of the
   * last key has come.
   */
  async ask<K extends string>(keys: readonly K[], ms = 30_000, tail?: number): Promise<Record<K, string[]>> {
    const tag = `q${++this.#asked}`;
    this.type(tag);
    const last = keys.at(-1);
    await this.until(() => this.line(`VK ${last}-${tag}`) !== undefined, ms, `answer ${tag}`, tail);
    const out = {} as Record<K, string[]>;
    for (const k of keys) out[k] = (this.line(`VK ${k}-${tag}`) ?? '').split(/\s+/).slice(2).filter(Boolean);
    return out;
  }

  destroy(): void {
    this.stream.destroy();
  }
}

/**
 * Starts `dom` paused (so the console is attached before the kernel writes
 * its first byte; `alreadyPaused` when it was created so), opens its
 * console, resumes it and waits for the tiny Linux's boot report.
 */
export async function bootToReport(
  dom: Domain,
  ms: number,
  leftovers?: Leftovers,
  alreadyPaused = false,
): Promise<GuestConsole> {
  if (!alreadyPaused) await dom.start({ paused: true });
  const console = await GuestConsole.open(dom);
  leftovers?.console(console);
  await dom.resume();
  await console.until(REPORT_END, ms, 'boot report');
  return console;
}

/** The processes (any, not zombies) whose command line mentions `marker`. */
export function processesMentioning(marker: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const zombie = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
      if (!zombie && cmd.includes(marker)) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * What a real-guest test made and takes down in afterAll, in this order:
 * consoles; each open connection's running guests destroyed, then
 * `beforeClose`, then the connection closed; then `afterClose` steps;
 * whatever happens before, the QEMU processes mentioning each root are
 * killed, the `lastly` steps run and the roots are removed.
 */
export class Leftovers {
  readonly #consoles: GuestConsole[] = [];
  readonly #conns: Connection[] = [];
  readonly #roots: TestRoots[] = [];
  readonly #afterClose: Array<() => Promise<unknown> | undefined> = [];
  readonly #lastly: Array<() => void> = [];

  constructor(private readonly beforeClose?: (conn: Connection) => Promise<void>) {}

  /** Fresh roots in the temporary directory, removed at the end. */
  roots(prefix: string): TestRoots {
    const r = tempRoots(prefix);
    this.#roots.push(r);
    return r;
  }

  /** {@link connectUnder}, closed at the end. */
  async connect(root: string, uri?: string): Promise<Connection> {
    const c = await connectUnder(root, uri);
    this.#conns.push(c);
    return c;
  }

  console(c: GuestConsole): GuestConsole {
    this.#consoles.push(c);
    return c;
  }

  /** A step once the connections are closed (awaiting an event loop that ends with them). */
  afterClose(step: () => Promise<unknown> | undefined): void {
    this.#afterClose.push(step);
  }

  /** A step after the QEMU processes are killed, before the roots go (umount, a bridge deleted). */
  lastly(step: () => void): void {
    this.#lastly.push(step);
  }

  async clear(): Promise<void> {
    try {
      for (const s of this.#consoles) s.destroy();
      await closeAll(this.#conns, this.beforeClose);
      for (const step of this.#afterClose) await step();
    } finally {
      for (const r of this.#roots) killQemuUnder(r.path);
      for (const step of this.#lastly) step();
      for (const r of this.#roots) r.remove();
    }
  }
}

/** {@link Leftovers} cleared in this file's (or describe block's) afterAll, within `ms`. */
export function leftoversAfterAll(beforeClose?: (conn: Connection) => Promise<void>, ms = 30_000): Leftovers {
  const l = new Leftovers(beforeClose);
  afterAll(() => l.clear(), ms);
  return l;
}

/**
 * Fresh roots for each test, and what the test opened taken down after it:
 * its connections closed (running guests destroyed first), the QEMU
 * processes under its roots killed; every test's roots removed after the file.
 */
export class EachTestRoots {
  #current: TestRoots | undefined;
  readonly #all: TestRoots[] = [];
  readonly #conns: Connection[] = [];

  constructor(private readonly prefix: string) {}

  /** This test's roots. */
  get roots(): TestRoots {
    if (!this.#current) throw new Error('no roots outside a test (rootsEachTest makes them in beforeEach)');
    return this.#current;
  }

  /** The folder of this test's roots. */
  get path(): string {
    return this.roots.path;
  }

  /** {@link connectUnder} this test's roots, closed after the test. */
  async connect(uri?: string, options?: QemuDriverOptions): Promise<Connection> {
    const c = await connectUnder(this.path, uri, options);
    this.#conns.push(c);
    return c;
  }

  /** beforeEach: new roots. */
  fresh(): void {
    this.#current = tempRoots(this.prefix);
    this.#all.push(this.#current);
  }

  /** afterEach: the test's connections closed, its QEMU processes killed. */
  async takeDown(): Promise<void> {
    try {
      await closeAll(this.#conns.splice(0));
    } finally {
      if (this.#current) killQemuUnder(this.#current.path);
    }
  }

  /**
   * afterAll: no QEMU left under any test's roots, a moment after the last
   * test's were killed (a killed process is gone once its parent reaps it).
   */
  async expectNoQemuLeft(): Promise<void> {
    await new Promise((r) => setTimeout(r, 100));
    for (const r of this.#all) expect(qemuProcessesMentioning(r.path)).toEqual([]);
  }

  /** afterAll: every test's roots removed. */
  remove(): void {
    for (const r of this.#all.splice(0)) r.remove();
  }
}

/**
 * {@link EachTestRoots} (in the temporary directory, named `prefix`...) on
 * this file's hooks; `noQemuLeft`: the file fails when a QEMU outlives its
 * test ({@link EachTestRoots.expectNoQemuLeft}), for tests of the driver's
 * own clean-up.
 */
export function rootsEachTest(prefix: string, opts: { noQemuLeft?: boolean } = {}): EachTestRoots {
  const each = new EachTestRoots(prefix);
  beforeEach(() => each.fresh());
  afterEach(() => each.takeDown(), 30_000);
  afterAll(async () => {
    try {
      if (opts.noQemuLeft) await each.expectNoQemuLeft();
    } finally {
      each.remove();
    }
  });
  return each;
}

/** A qemu:///session connection on roots of its own: one "host" of a test. */
export interface EventHost {
  readonly conn: Connection;
  readonly roots: TestRoots;
  /** Its lifecycle events as `event/detail`, in the order delivered. */
  readonly events: string[];
  /** Its state root: where the status files and managed save images are. */
  readonly state: string;
}

/**
 * The hosts the file's tests stand up, one or several a test (a migration's
 * source and destination), each with its lifecycle events recorded for the
 * test to compare with libvirt's. What a test opened is taken down after it
 * (connections closed, their running guests destroyed first; the QEMU
 * processes under its roots killed); every root is removed after the file.
 */
export class EventHosts {
  readonly #conns: Connection[] = [];
  readonly #fresh: TestRoots[] = [];
  readonly #all: TestRoots[] = [];

  /** A new host on fresh roots in the temporary directory, named `prefix`... */
  async host(prefix: string): Promise<EventHost> {
    const roots = tempRoots(prefix);
    this.#fresh.push(roots);
    this.#all.push(roots);
    const conn = this.keep(await connectUnder(roots.path));
    const events: string[] = [];
    void (async () => {
      for await (const e of conn.events() as AsyncIterable<AnyDomainEvent>)
        if (e.type === 'lifecycle') events.push(`${e.event}/${e.detail}`);
    })();
    return { conn, roots, events, state: join(roots.path, 'state') };
  }

  /** Another connection the test opened, closed after it with the hosts'. */
  keep(c: Connection): Connection {
    this.#conns.push(c);
    return c;
  }

  /** afterEach: the test's connections closed, the QEMU processes under its roots killed. */
  async takeDown(): Promise<void> {
    try {
      await closeAll(this.#conns.splice(0));
    } finally {
      for (const r of this.#fresh.splice(0)) killQemuUnder(r.path);
    }
  }

  /** afterAll: every host's roots removed. */
  remove(): void {
    for (const r of this.#all.splice(0)) r.remove();
  }
}

/** {@link EventHosts} on this file's hooks. */
export function eventHostsEachTest(): EventHosts {
  const hosts = new EventHosts();
  afterEach(() => hosts.takeDown(), 30_000);
  afterAll(() => hosts.remove());
  return hosts;
}

/** The error `p` rejects with, failing the test unless it is a libvirt error (or `p` resolves). */
export async function errorOf(p: Promise<unknown>): Promise<VirError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isVirError(err), String(err)).toBe(true);
  return err as VirError;
}
