/**
 * The generic guest helper process, with real processes: one that never
 * gets ready is killed within its bound, one that dies is reported, and
 * neither leaves its runtime files behind.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startHelper } from '../../../src/drivers/qemu/lifecycle/index.js';
import { tempDir } from '../qemu/helpers.js';

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir('vk-helper-');
});
afterEach(() => dir.remove());

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function sh(script: string): string {
  const p = join(dir.path, 'helper.sh');
  writeFileSync(p, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return p;
}

it('a helper that never creates its socket: OPERATION_TIMEOUT within the bound, and it is killed', async () => {
  const pidFile = join(dir.path, 'run', 'h.pid');
  const t0 = Date.now();
  const err = await startHelper({
    name: 'sleepy',
    argv: [sh(`echo $$ > ${pidFile}; exec sleep 30`)],
    logFile: join(dir.path, 'log', 'h.log'),
    socket: join(dir.path, 'run', 'h.sock'),
    runtimeFiles: [join(dir.path, 'run', 'h.sock'), pidFile],
    readyTimeoutMs: 300,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toMatchObject({ code: 'OPERATION_TIMEOUT' });
  expect(Date.now() - t0).toBeLessThan(3000);
  expect(existsSync(pidFile)).toBe(false);
  expect(readdirSync(join(dir.path, 'run'))).toEqual([]);
});

it('a ready helper that dies is reported once, with its exit status, and its files are removed', async () => {
  const sock = join(dir.path, 'run', 'h.sock');
  const h = await startHelper({
    name: 'brief',
    argv: [sh(`: > ${sock}; sleep 0.2; exit 4`)],
    logFile: join(dir.path, 'log', 'h.log'),
    socket: sock,
    runtimeFiles: [sock],
  });
  const exit = await new Promise((resolve) => h.onUnexpectedExit(resolve));
  expect(exit).toEqual({ name: 'brief', code: 4, signal: null });
  expect(existsSync(sock)).toBe(false);
  expect(alive(h.pid)).toBe(false);
  await h.stop();
});

it('stop() ends a helper that ignores SIGTERM with SIGKILL after the grace period, without reporting it', async () => {
  const sock = join(dir.path, 'run', 'h.sock');
  const h = await startHelper({
    name: 'stubborn',
    argv: [sh(`trap '' TERM; : > ${sock}; while :; do sleep 0.05; done`)],
    logFile: join(dir.path, 'log', 'h.log'),
    socket: sock,
    runtimeFiles: [sock],
  });
  let reported = false;
  h.onUnexpectedExit(() => {
    reported = true;
  });
  await h.stop(200);
  expect(alive(h.pid)).toBe(false);
  expect(reported).toBe(false);
  expect(existsSync(sock)).toBe(false);
});
