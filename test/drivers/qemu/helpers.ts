/**
 * Test helpers: a scripted QMP peer on a unix socket, temp dirs, and whether
 * a real QEMU is installed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

export function tempDir(prefix = 'vk-qemu-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export const GREETING = `${JSON.stringify({
  QMP: { version: { qemu: { major: 9, minor: 2, micro: 0 }, package: 'fake' }, capabilities: ['oob'] },
})}\r\n`;

/**
 * A fake QMP server: greets (unless told not to), then hands every parsed
 * command to `script`, which writes whatever it likes back on the socket.
 */
export async function fakeQmpServer(
  dir: string,
  script: (cmd: { execute: string; id?: string; arguments?: unknown }, socket: Socket) => void,
  options: { greet?: boolean | string } = {},
): Promise<{ path: string; server: Server; sockets: Socket[]; close(): Promise<void> }> {
  const path = join(dir, 'fake.sock');
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    if (options.greet !== false) socket.write(typeof options.greet === 'string' ? options.greet : GREETING);
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) script(JSON.parse(line), socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    server,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Answers qmp_capabilities and `query-version`; everything else goes to `rest`. */
export function standardScript(
  rest: (cmd: { execute: string; id?: string; arguments?: unknown }, socket: Socket) => void = () => {},
) {
  return (cmd: { execute: string; id?: string; arguments?: unknown }, socket: Socket) => {
    if (cmd.execute === 'qmp_capabilities') socket.write(`${JSON.stringify({ return: {}, id: cmd.id })}\r\n`);
    else rest(cmd, socket);
  };
}

/** Pids of this process's live children (every thread's `children` list in /proc). */
export function childPids(): number[] {
  const out: number[] = [];
  try {
    for (const t of readdirSync(`/proc/${process.pid}/task`)) {
      const text = readFileSync(`/proc/${process.pid}/task/${t}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // not Linux: nothing to check
  }
  return out;
}

/** The host-model section of a domain capabilities document as `model X` then `policy name` lines. */
export function hostModelLines(xml: string): string[] {
  const start = xml.indexOf("<mode name='host-model'");
  const section = xml.slice(start, xml.indexOf('</mode>', start));
  return [
    `model ${/<model fallback='forbid'>([^<]+)/.exec(section)?.[1]}`,
    ...[...section.matchAll(/policy='(\w+)' name='([^']+)'/g)].map((m) => `${m[1]} ${m[2]}`),
  ];
}
