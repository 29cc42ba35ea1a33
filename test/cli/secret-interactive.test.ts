/**
 * `secret-set-value --interactive`: the value read from the terminal, beside
 * Debian's virsh on a private libvirtd (virsh run in a new session, so its
 * getpass(3) reads the same pipe ours does), and the terminal behaviour
 * getpass has: no echo, Backspace, Ctrl-C, the line end dropped.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHiddenLine } from '../../src/cli/read-hidden.js';
import { type Daemon, LIBVIRTD, startLibvirtd } from '../drivers/remote/libvirtd.js';
import { runCli } from './run-cli.js';
import { VIRSH_TIMEOUT_MS } from './virsh-peer.js';

const HAS_VIRSH = spawnSync('virsh', ['--version'], { encoding: 'utf8' }).status === 0;
const HAS_SETSID = spawnSync('setsid', ['--version'], { encoding: 'utf8' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'vk-secint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const uuid = 'c3d2f0a4-6b1e-4f7a-9d2c-5e8b1a0f3c77';
const SECRET = join(dir, 'secret.xml');
writeFileSync(
  SECRET,
  `<secret ephemeral='no' private='no'><uuid>${uuid}</uuid>` +
    "<usage type='ceph'><name>client.vk-secint</name></usage></secret>\n",
);
const PLAIN = join(dir, 'plain.txt');
writeFileSync(PLAIN, 'x');

describe.skipIf(!HAS_VIRSH || !LIBVIRTD || !HAS_SETSID)(
  `--interactive beside virsh on a private libvirtd${HAS_VIRSH && LIBVIRTD && HAS_SETSID ? '' : ' (skipped: no virsh, libvirtd or setsid)'}`,
  () => {
    let daemon: Daemon | undefined;
    beforeAll(async () => {
      daemon = await startLibvirtd();
    }, 30_000);
    afterAll(async () => {
      await daemon?.stop();
    });
    const chain = (set: string) =>
      `secret-define ${SECRET}; ${set}; secret-get-value ${uuid} --plain; secret-undefine ${uuid}`;
    const cases: [string, string][] = [
      [chain(`secret-set-value ${uuid} --interactive`), 'hunter2\n'],
      // only the first line is the value
      [chain(`secret-set-value ${uuid} --interactive`), 'a b\nsecond line\n'],
      [chain(`secret-set-value ${uuid} --interactive`), 'no line end'],
      // nothing typed: an empty value, which the daemon refuses
      [chain(`secret-set-value ${uuid} --interactive`), ''],
      [chain(`secret-set-value ${uuid} --interactive --plain`), 'hunter2\n'],
      [chain(`secret-set-value ${uuid} --interactive --base64 aGk=`), 'hunter2\n'],
      [chain(`secret-set-value ${uuid} --interactive --file ${PLAIN}`), 'hunter2\n'],
    ];
    for (const [line, typed] of cases) {
      it(`virsh '${line.replaceAll(dir, 'DIR')}' given ${JSON.stringify(typed)}`, async () => {
        const uri = `secret+unix:///session?socket=${daemon?.socket}`;
        // a new session has no controlling terminal: getpass(3) falls back to stdin
        const r = spawnSync('setsid', ['-w', 'virsh', '-c', uri, line], {
          input: typed,
          encoding: 'utf8',
          timeout: VIRSH_TIMEOUT_MS,
          killSignal: 'SIGKILL',
          env: { ...process.env, LC_ALL: 'C' },
        });
        const theirs = { code: r.status ?? -1, out: r.stdout, err: r.stderr };
        const ours = await runCli(['-c', uri, line], { terminalInput: typed });
        expect(ours).toEqual(theirs);
      });
    }
  },
);

/** A terminal double: a TTY flag, raw mode recorded, what is written back collected. */
function fakeTty() {
  const input = Object.assign(new PassThrough(), {
    isTTY: true,
    modes: [] as boolean[],
    setRawMode(raw: boolean) {
      this.modes.push(raw);
      return this;
    },
  });
  const written: string[] = [];
  const output = new PassThrough();
  output.on('data', (d: Buffer) => written.push(d.toString()));
  return { input, output, written };
}

describe('reading a secret from a terminal', () => {
  it('reads in raw mode without echo, Backspace taking a byte back, and restores the mode', async () => {
    const t = fakeTty();
    const p = readHiddenLine(t);
    t.input.write('hun\x7fnter2');
    t.input.write('\r');
    const got = await p;
    expect(Buffer.from(got ?? []).toString()).toBe('hunter2');
    expect(t.input.modes).toEqual([true, false]);
    // only the line end the terminal did not echo, never the value
    await new Promise((r) => setImmediate(r));
    expect(t.written.join('')).toBe('\n');
  });

  it('gives up on Ctrl-C, and Ctrl-D on an empty line is an empty value', async () => {
    const t = fakeTty();
    const p = readHiddenLine(t);
    t.input.write('abc\x03');
    expect(await p).toBeUndefined();
    const u = fakeTty();
    const q = readHiddenLine(u);
    u.input.write('\x04');
    expect(await q).toEqual(new Uint8Array(0));
  });

  it('leaves what follows the line in a pipe for the next reader', async () => {
    const input = new PassThrough();
    const t = { input, output: new PassThrough() };
    input.write('first\nsecond\n');
    expect(Buffer.from((await readHiddenLine(t)) ?? []).toString()).toBe('first');
    expect(Buffer.from((await readHiddenLine(t)) ?? []).toString()).toBe('second');
  });

  it('stops waiting when the command is interrupted', async () => {
    const input = new PassThrough();
    const ac = new AbortController();
    const p = readHiddenLine({ input, output: new PassThrough() }, ac.signal);
    ac.abort();
    expect(await p).toBeUndefined();
  });
});
