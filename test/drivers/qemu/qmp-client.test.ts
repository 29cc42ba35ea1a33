import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startMonitorProcess } from '../../../src/drivers/qemu/probe/qemu-monitor-process.js';
import { QmpClient, QmpError } from '../../../src/drivers/qemu/qmp/index.js';
import { VirError } from '../../../src/errors.js';
import { waitFor } from '../../wait-for.js';
import {
  childPids,
  fakeQmpServer,
  HAS_QEMU,
  QEMU_BINARY,
  QEMU_NOTE,
  standardScript,
  tempDir,
} from './helpers.js';

const childrenBefore = new Set(childPids());
afterAll(() => {
  // every QEMU (and fake QEMU) a test started has been reaped
  expect(childPids().filter((p) => !childrenBefore.has(p))).toEqual([]);
});

let dir: ReturnType<typeof tempDir>;
const cleanups: Array<() => Promise<void> | void> = [];

beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dir.remove();
});

async function serve(...args: Parameters<typeof fakeQmpServer>) {
  const s = await fakeQmpServer(...args);
  cleanups.push(() => s.close());
  return s;
}

async function client(path: string, opts: Parameters<typeof QmpClient.connect>[1] = {}) {
  const c = await QmpClient.connect(path, opts);
  cleanups.push(() => c.close());
  return c;
}

function reply(socket: import('node:net').Socket, obj: unknown) {
  socket.write(`${JSON.stringify(obj)}\r\n`);
}

describe('QmpClient against a scripted peer', () => {
  it('negotiates capabilities, then matches replies by id even out of order', async () => {
    const held: Array<{ id?: string; execute: string }> = [];
    const s = await serve(
      dir.path,
      standardScript((cmd, socket) => {
        held.push(cmd);
        if (held.length === 2) {
          // answer the second command first
          reply(socket, { return: { n: 2 }, id: held[1]?.id });
          reply(socket, { return: { n: 1 }, id: held[0]?.id });
        }
      }),
    );
    const c = await client(s.path);
    expect(c.greeting.version.qemu).toEqual({ major: 9, minor: 2, micro: 0 });
    expect(c.greeting.capabilities).toEqual(['oob']);
    const [a, b] = await Promise.all([c.execute('first'), c.execute('second')]);
    expect(a).toEqual({ n: 1 });
    expect(b).toEqual({ n: 2 });
  });

  it('sends arguments and turns an error reply into a QmpError with the class', async () => {
    let seen: unknown;
    const s = await serve(
      dir.path,
      standardScript((cmd, socket) => {
        seen = cmd.arguments;
        reply(socket, {
          error: { class: 'CommandNotFound', desc: 'The command nope has not been found' },
          id: cmd.id,
        });
      }),
    );
    const c = await client(s.path);
    const err = await c.execute('nope', { a: 'x,y' }).catch((e: unknown) => e);
    expect(seen).toEqual({ a: 'x,y' });
    expect(err).toBeInstanceOf(QmpError);
    expect(err).toMatchObject({
      reason: 'command',
      qmpClass: 'CommandNotFound',
      code: 'OPERATION_FAILED',
      domain: 'qmp',
    });
    // the connection stays usable after a command error
    expect(c.isClosed).toBe(false);
  });

  it('delivers events to listeners and async iterators, interleaved with replies', async () => {
    const s = await serve(
      dir.path,
      standardScript((cmd, socket) => {
        reply(socket, { event: 'STOP', data: {}, timestamp: { seconds: 1, microseconds: 2 } });
        reply(socket, { return: {}, id: cmd.id });
        reply(socket, { event: 'RESUME', timestamp: { seconds: 3, microseconds: 4 } });
      }),
    );
    const c = await client(s.path);
    const heard: string[] = [];
    const off = c.onEvent((ev) => heard.push(ev.event));
    const it = c.events();
    await c.execute('stop');
    const first = await it.next();
    const second = await it.next();
    expect(first.value).toEqual({ event: 'STOP', data: {}, timestamp: { seconds: 1, microseconds: 2 } });
    expect(second.value?.event).toBe('RESUME');
    expect(heard).toEqual(['STOP', 'RESUME']);
    off();
    await c.close();
    expect((await it.next()).done).toBe(true);
  });

  it('rejects pending commands when the socket closes in the middle of a reply', async () => {
    const s = await serve(
      dir.path,
      standardScript((cmd, socket) => {
        socket.write(`{"return": {"partial": tr`);
        setTimeout(() => socket.destroy(), 20);
        void cmd;
      }),
    );
    const c = await client(s.path);
    const err = await c.execute('query-something').catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'closed', command: 'query-something', code: 'OPERATION_FAILED' });
    expect((err as Error).message).toContain('middle of a reply');
    expect(c.isClosed).toBe(true);
    // later calls fail at once with the same reason
    await expect(c.execute('again')).rejects.toMatchObject({ reason: 'closed' });
  });

  it('treats a garbage line as a protocol error and closes', async () => {
    const s = await serve(
      dir.path,
      standardScript((_cmd, socket) => {
        socket.write('this is not json\r\n');
      }),
    );
    const c = await client(s.path);
    await expect(c.execute('x')).rejects.toMatchObject({ reason: 'malformed', code: 'INTERNAL_ERROR' });
    expect((await c.closed).reason).toBe('malformed');
  });

  it('rejects truncated JSON followed by a newline as malformed', async () => {
    const s = await serve(
      dir.path,
      standardScript((cmd, socket) => {
        socket.write(`{"return": {}, "id": "${cmd.id}"\r\n`);
      }),
    );
    const c = await client(s.path);
    await expect(c.execute('x')).rejects.toMatchObject({ reason: 'malformed' });
  });

  it('rejects a message that is JSON but not an object', async () => {
    const s = await serve(
      dir.path,
      standardScript((_cmd, socket) => socket.write('[1,2,3]\n')),
    );
    const c = await client(s.path);
    await expect(c.execute('x')).rejects.toMatchObject({ reason: 'malformed' });
  });

  it('refuses a message larger than the configured limit', async () => {
    const s = await serve(
      dir.path,
      standardScript((_cmd, socket) => socket.write(`{"return": "${'a'.repeat(5000)}`)),
    );
    const c = await client(s.path, { maxMessageBytes: 1000 });
    await expect(c.execute('x')).rejects.toMatchObject({ reason: 'malformed' });
  });

  it('times out a command the server never answers, and keeps the connection', async () => {
    const s = await serve(
      dir.path,
      standardScript((cmd, socket) => {
        if (cmd.execute === 'ping') reply(socket, { return: 'pong', id: cmd.id });
      }),
    );
    const c = await client(s.path);
    await expect(c.execute('hang', undefined, { timeoutMs: 50 })).rejects.toMatchObject({
      reason: 'timeout',
      code: 'OPERATION_TIMEOUT',
    });
    expect(await c.execute('ping')).toBe('pong');
  });

  it('aborts a command with its AbortSignal and drops the late reply', async () => {
    let late: (() => void) | undefined;
    const s = await serve(
      dir.path,
      standardScript((cmd, socket) => {
        if (cmd.execute === 'slow') late = () => reply(socket, { return: 'late', id: cmd.id });
        else reply(socket, { return: 'ok', id: cmd.id });
      }),
    );
    const c = await client(s.path);
    const ac = new AbortController();
    const p = c.execute('slow', undefined, { signal: ac.signal });
    // aborted once the server has it, so that its reply does come late
    const answer = await waitFor(() => late, { what: "the server's receipt of slow" });
    ac.abort();
    await expect(p).rejects.toMatchObject({ reason: 'aborted', code: 'OPERATION_ABORTED' });
    answer();
    expect(await c.execute('fast')).toBe('ok');
  });

  it('times out a server that never greets', async () => {
    const s = await serve(dir.path, () => {}, { greet: false });
    await expect(QmpClient.connect(s.path, { greetingTimeoutMs: 100 })).rejects.toMatchObject({
      reason: 'timeout',
    });
  });

  it('rejects a peer whose first message is not a QMP greeting', async () => {
    const s = await serve(dir.path, () => {}, { greet: '{"hello": "world"}\n' });
    await expect(QmpClient.connect(s.path, { greetingTimeoutMs: 1000 })).rejects.toMatchObject({
      reason: 'malformed',
    });
  });

  it('fails to connect to a missing socket with a connect error', async () => {
    await expect(QmpClient.connect(`${dir.path}/missing.sock`)).rejects.toMatchObject({
      reason: 'connect',
      domain: 'qmp',
    });
  });

  it('retries a socket that appears later', async () => {
    const pending = QmpClient.connect(`${dir.path}/fake.sock`, { retryForMs: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    await serve(dir.path, standardScript());
    const c = await pending;
    cleanups.push(() => c.close());
    expect(c.isClosed).toBe(false);
  });

  it('rejects pending commands when the client closes, and ends iterators', async () => {
    const s = await serve(dir.path, standardScript());
    const c = await QmpClient.connect(s.path);
    const it = c.events();
    const p = c.execute('never');
    await c.close();
    await expect(p).rejects.toMatchObject({ reason: 'closed' });
    expect((await it.next()).done).toBe(true);
    await c.close(); // idempotent
  });

  it('keeps a listener that throws from killing the connection', async () => {
    const s = await serve(
      dir.path,
      standardScript((cmd, socket) => {
        reply(socket, { event: 'X', data: {}, timestamp: { seconds: 0, microseconds: 0 } });
        reply(socket, { return: 1, id: cmd.id });
      }),
    );
    const c = await client(s.path);
    c.onEvent(() => {
      throw new Error('listener bug');
    });
    expect(await c.execute('y')).toBe(1);
  });
});

describe.skipIf(!HAS_QEMU)(`QmpClient against real QEMU${QEMU_NOTE}`, () => {
  it('talks to qemu-system-x86_64 -machine none and sees it exit', async () => {
    const proc = await startMonitorProcess({
      binary: QEMU_BINARY,
      args: ['-machine', 'none', '-nodefaults', '-nographic', '-no-user-config', '-accel', 'tcg'],
      dir: dir.path,
    });
    cleanups.push(() => proc.kill());
    const version = await proc.qmp.execute<{ qemu: { major: number } }>('query-version');
    expect(version.qemu.major).toBeGreaterThanOrEqual(2);
    expect(proc.qmp.greeting.version.qemu.major).toBe(version.qemu.major);
    const status = await proc.qmp.execute<{ running: boolean; status: string }>('query-status');
    expect(typeof status.running).toBe('boolean');
    // an unknown command is QEMU's own error
    await expect(proc.qmp.execute('no-such-command')).rejects.toMatchObject({
      reason: 'command',
      qmpClass: 'CommandNotFound',
    });
    // `quit` ends the process; a command pending then fails with `closed`
    const quit = proc.qmp.execute('quit').catch(() => undefined);
    await proc.qmp.closed;
    await quit;
    await expect(proc.qmp.execute('query-status')).rejects.toMatchObject({ reason: 'closed' });
    await proc.kill();
    expect(proc.child.exitCode !== null || proc.child.signalCode !== null).toBe(true);
  });

  it('starts QEMU from a run directory whose name has a comma in it', async () => {
    const odd = join(dir.path, 'run,dir');
    mkdirSync(odd);
    const proc = await startMonitorProcess({
      binary: QEMU_BINARY,
      args: ['-machine', 'none', '-nodefaults', '-nographic', '-no-user-config', '-accel', 'tcg'],
      dir: odd,
    });
    cleanups.push(() => proc.kill());
    const version = await proc.qmp.execute<{ qemu: { major: number } }>('query-version');
    expect(version.qemu.major).toBeGreaterThanOrEqual(2);
    await proc.kill();
  });

  it('refuses a run directory with a newline before starting anything', async () => {
    const err = await startMonitorProcess({
      binary: QEMU_BINARY,
      args: ['-machine', 'none'],
      dir: join(dir.path, 'bad\ndir'),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VirError);
    expect((err as VirError).field).toBe('runDir');
  });

  it('reports a process killed mid-session as a closed connection', async () => {
    const proc = await startMonitorProcess({
      binary: QEMU_BINARY,
      args: ['-machine', 'none', '-nodefaults', '-nographic', '-no-user-config', '-accel', 'tcg'],
      dir: dir.path,
    });
    cleanups.push(() => proc.kill());
    proc.child.kill('SIGKILL');
    expect((await proc.qmp.closed).reason).toBe('closed');
    await proc.kill();
    expect(proc.child.signalCode).toBe('SIGKILL');
  });

  it('reports QEMU refusing its arguments with its stderr', async () => {
    const err = await startMonitorProcess({
      binary: QEMU_BINARY,
      args: ['-machine', 'no-such-machine-type', '-nodefaults', '-nographic'],
      dir: dir.path,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'OPERATION_FAILED', domain: 'qemu' });
    expect((err as Error).message).toMatch(/exited with status 1/);
    expect((err as Error).message).toMatch(/unsupported machine type/);
  });

  it('reports a binary that does not exist', async () => {
    const err = await startMonitorProcess({ binary: `${dir.path}/nope`, args: [], dir: dir.path }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'OPERATION_FAILED', domain: 'qemu' });
    expect((err as Error).message).toMatch(/ENOENT/);
  });

  it('times out a binary that never connects its monitor (and kills it)', async () => {
    const err = await startMonitorProcess({
      binary: '/bin/sh',
      args: ['-c', 'exec sleep 30'],
      dir: dir.path,
      startTimeoutMs: 200,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'timeout', code: 'OPERATION_TIMEOUT' });
  });
});
