/**
 * The two peers of the real-guest benchmark (qemu-guests.ts), each doing
 * what virtkit does with the same guest: libvirt 9.0 through `virsh` on a
 * private session libvirtd, and bare QEMU running the very argv and
 * environment virtkit ran. Every timing is wall time in µs from the first
 * call to the event (running, first console byte, process gone).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReadStream } from 'node:tty';
import { QmpClient } from '../src/drivers/qemu/qmp/index.js';

export function nowUs(): number {
  return Number(process.hrtime.bigint()) / 1000;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with the time of the first byte read from the pty at `path` (rejects after `ms`). */
export function firstPtyByte(path: string, ms: number): { ready: Promise<void>; byte: Promise<number> } {
  // O_NOCTTY: a guest's pty must never become the benchmark's terminal
  const fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY);
  const stream = new ReadStream(fd);
  const byte = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`no byte on ${path} within ${ms} ms`));
    }, ms);
    stream.once('data', () => {
      const t = nowUs();
      clearTimeout(timer);
      stream.destroy();
      resolve(t);
    });
    stream.once('error', () => {});
  });
  return { ready: Promise.resolve(), byte };
}

export interface Virsh {
  readonly uri: string;
  run(args: string[]): Promise<string>;
}

export function virsh(socket: string): Virsh {
  const uri = `qemu+unix:///session?socket=${socket}`;
  return {
    uri,
    run: (args) =>
      new Promise((resolve, reject) => {
        execFile('virsh', ['-q', '-c', uri, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(String(stderr).trim() || err.message)) : resolve(String(stdout)),
        );
      }),
  };
}

/** libvirt: `virsh create`, and the time until the command returns with the guest running. */
export async function libvirtStart(v: Virsh, file: string): Promise<number> {
  const t0 = nowUs();
  await v.run(['create', file]);
  return nowUs() - t0;
}

/** libvirt: create paused, find the serial pty in the live XML, open it, resume; until its first byte. */
export async function libvirtFirstByte(v: Virsh, file: string, name: string, ms: number): Promise<number> {
  const t0 = nowUs();
  await v.run(['create', '--paused', file]);
  const xml = await v.run(['dumpxml', name]);
  const pty = /<serial type='pty'>\s*<source path='([^']+)'/.exec(xml)?.[1];
  if (!pty) throw new Error('no serial pty in the live XML');
  const { byte } = firstPtyByte(pty, ms);
  await v.run(['resume', name]);
  return (await byte) - t0;
}

export async function libvirtDestroy(v: Virsh, name: string): Promise<number> {
  const t0 = nowUs();
  await v.run(['destroy', name]);
  return nowUs() - t0;
}

/** A QEMU command line as virtkit ran it: argv and the whole environment. */
export interface NativeCommand {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** What a bare QEMU run needs on disk before it starts: the monitor's and HOME's directories. */
function monitorPath(cmd: NativeCommand): string {
  const spec = cmd.argv.find((a) => a.startsWith('socket,id=charmonitor,'));
  const path = /path=([^,]+)/.exec(spec ?? '')?.[1];
  if (!path) throw new Error('no monitor socket in the command line');
  return path;
}

export interface BareRun {
  readonly child: ChildProcess;
  readonly qmp: QmpClient;
}

/** Spawns `cmd` (it has -S) and connects to its monitor. */
async function spawnBare(cmd: NativeCommand, logFile: string): Promise<BareRun> {
  const socket = monitorPath(cmd);
  mkdirSync(join(socket, '..'), { recursive: true, mode: 0o700 });
  rmSync(socket, { force: true });
  if (cmd.env.HOME) mkdirSync(cmd.env.HOME, { recursive: true });
  const log = openSync(logFile, 'a');
  const child = spawn(cmd.argv[0] as string, cmd.argv.slice(1), {
    env: { ...cmd.env },
    stdio: ['ignore', log, log],
    detached: true,
  });
  closeSync(log);
  const end = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`bare QEMU exited with ${child.exitCode} (log ${logFile})`);
    if (Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error('bare QEMU did not open its monitor');
    }
    // the file appears at bind(), a moment before QEMU listens
    if (existsSync(socket)) {
      const qmp = await QmpClient.connect(socket).catch(() => undefined);
      if (qmp) return { child, qmp };
    }
    await sleep(2);
  }
}

/** Bare QEMU: spawn, monitor, `cont`; until the CPUs run. */
export async function bareStart(cmd: NativeCommand, logFile: string): Promise<{ us: number; run: BareRun }> {
  const t0 = nowUs();
  const run = await spawnBare(cmd, logFile);
  await run.qmp.execute('cont');
  return { us: nowUs() - t0, run };
}

/** Bare QEMU: spawn, find the serial pty over QMP, open it, `cont`; until its first byte. */
export async function bareFirstByte(
  cmd: NativeCommand,
  logFile: string,
  ms: number,
): Promise<{ us: number; run: BareRun }> {
  const t0 = nowUs();
  const run = await spawnBare(cmd, logFile);
  try {
    return await firstByteOf(run, t0, ms);
  } catch (err) {
    run.child.kill('SIGKILL');
    throw err;
  }
}

async function firstByteOf(run: BareRun, t0: number, ms: number): Promise<{ us: number; run: BareRun }> {
  const chardevs = (await run.qmp.execute('query-chardev')) as Array<{ label: string; filename: string }>;
  const pty = chardevs.find((c) => c.label === 'charserial0')?.filename.replace(/^pty:/, '');
  if (!pty) throw new Error('no serial pty');
  const { byte } = firstPtyByte(pty, ms);
  await run.qmp.execute('cont');
  return { us: (await byte) - t0, run };
}

/** Bare QEMU: SIGTERM and wait for the process to be gone, as a destroy does. */
export async function bareDestroy(run: BareRun): Promise<number> {
  const t0 = nowUs();
  const gone = new Promise<void>((r) => {
    if (run.child.exitCode !== null || run.child.signalCode !== null) r();
    else run.child.once('exit', () => r());
  });
  run.child.kill('SIGTERM');
  await gone;
  const us = nowUs() - t0;
  await run.qmp.close().catch(() => {});
  return us;
}

export function writeXml(dir: string, name: string, xml: string): string {
  const file = join(dir, `${name}.xml`);
  writeFileSync(file, xml);
  return file;
}
