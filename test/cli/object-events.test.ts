/**
 * pool-event, net-event and secret-event: real events while another
 * command of the same session changes the objects (test:///default is one
 * per process, so both run in one session), the refusals beside virsh on
 * test:///default, and the lines beside virsh's on a private libvirtd's
 * storage and secret drivers, where virsh makes the changes for both.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session } from '../../src/cli/session.js';
import { type Daemon, LIBVIRTD, startLibvirtd } from '../drivers/remote/libvirtd.js';
import { runCli } from './run-cli.js';
import { spawnVirsh, VIRSH_TIMEOUT_MS } from './virsh-peer.js';

const HAS_VIRSH = spawnSync('virsh', ['--version'], { encoding: 'utf8' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'vk-cli2-ev-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const SECRET_UUID = 'b1c4b9f4-2f0e-4d5c-9a53-2d8a6a0cfe13';
const SECRET = file(
  's.xml',
  `<secret ephemeral='no' private='no'><uuid>${SECRET_UUID}</uuid><usage type='ceph'><name>vk-cli2-ev</name></usage></secret>\n`,
);
const NET = file('n.xml', '<network><name>vk-cli2-n</name></network>\n');

/** Runs `waiter` in a session, then `changes` in the same session while it waits. */
async function whileWaiting(waiter: string[], changes: string[][]) {
  const out: string[] = [];
  const err: string[] = [];
  const session = new Session({
    uri: 'test:///default',
    readonly: false,
    quiet: true,
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  try {
    const waiting = session.run([waiter]);
    await new Promise((r) => setTimeout(r, 50));
    await session.run(changes);
    return { ok: (await waiting).ok, out, err };
  } finally {
    await session.close();
  }
}

describe('object events on test:///default', () => {
  it('pool-event prints lifecycle events in virsh words; --pool filters; one-shot stops at the first', async () => {
    const pool = file(
      'p.xml',
      "<pool type='dir'><name>vk-cli2-p</name><target><path>/vk-cli2-p</path></target></pool>\n",
    );
    const r = await whileWaiting(
      ['pool-event', '--event', 'lifecycle', '--loop', '--timeout', '1', '--pool', 'default-pool'],
      [
        ['pool-define', pool],
        ['pool-destroy', 'default-pool'],
        ['pool-start', 'default-pool'],
        ['pool-undefine', 'vk-cli2-p'],
      ],
    );
    expect(r).toEqual({
      ok: true,
      out: [
        "event 'lifecycle' for storage pool default-pool: Stopped",
        "event 'lifecycle' for storage pool default-pool: Started",
        'event loop timed out',
        'events received: 2',
      ],
      err: [],
    });
    const one = await whileWaiting(
      ['pool-event', '--event', 'refresh', '--timeout', '5'],
      [['pool-refresh', 'default-pool']],
    );
    expect(one).toEqual({
      ok: true,
      out: ["event 'refresh' for storage pool default-pool", 'events received: 1'],
      err: [],
    });
  });

  it('net-event and secret-event print theirs, with --timestamp as virsh stamps them', async () => {
    const net = await whileWaiting(
      ['net-event', '--event', 'lifecycle', '--loop', '--timeout', '1'],
      [
        ['net-define', NET],
        ['net-start', 'vk-cli2-n'],
        ['net-destroy', 'vk-cli2-n'],
        ['net-undefine', 'vk-cli2-n'],
      ],
    );
    expect(net.out).toEqual([
      "event 'lifecycle' for network vk-cli2-n: Defined",
      "event 'lifecycle' for network vk-cli2-n: Started",
      "event 'lifecycle' for network vk-cli2-n: Stopped",
      "event 'lifecycle' for network vk-cli2-n: Undefined",
      'event loop timed out',
      'events received: 4',
    ]);
    const sec = await whileWaiting(
      ['secret-event', '--event', 'value-changed', '--loop', '--timeout', '1', '--timestamp'],
      [
        ['secret-define', SECRET],
        ['secret-set-value', SECRET_UUID, '--base64', 'aGk='],
        ['secret-undefine', SECRET_UUID],
      ],
    );
    expect(sec.out).toHaveLength(3);
    expect(sec.out[0]).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}[+-]\\d{4}: event 'value-changed' for secret ${SECRET_UUID}$`,
      ),
    );
    expect(sec.out.slice(1)).toEqual(['event loop timed out', 'events received: 1']);
    const life = await whileWaiting(
      ['secret-event', '--event', 'lifecycle', '--loop', '--timeout', '1'],
      [
        ['secret-define', SECRET],
        ['secret-undefine', SECRET_UUID],
      ],
    );
    expect(life.out).toEqual([
      `event 'lifecycle' for secret ${SECRET_UUID}: Defined`,
      `event 'lifecycle' for secret ${SECRET_UUID}: Undefined`,
      'event loop timed out',
      'events received: 2',
    ]);
  });

  it('a wait that sees nothing times out and fails, as in virsh', async () => {
    const r = await runCli(['pool-event --event lifecycle --timeout 1']);
    expect(r).toEqual({ code: 1, out: 'event loop timed out\nevents received: 0\n\n', err: '' });
  });
});

describe.skipIf(!HAS_VIRSH)(
  `the event commands' checks beside virsh${HAS_VIRSH ? '' : ' (skipped: no virsh)'}`,
  () => {
    for (const line of [
      'pool-event --list; net-event --list; secret-event --list',
      'pool-event --help',
      'net-event --help',
      'net-event',
      'pool-event --event bogus',
      'secret-event --event lifecycle --timeout 0',
      'net-event --event lifecycle --timeout -1',
      'pool-event --event refresh --timeout x',
    ]) {
      it(`virsh '${line}'`, async () => {
        const r = spawnVirsh(['-c', 'test:///default', line], { env: { ...process.env, LC_ALL: 'C' } });
        expect(await runCli(['-c', 'test:///default', line])).toEqual({
          code: r.status ?? -1,
          out: r.stdout,
          err: r.stderr,
        });
      });
    }
  },
);

/** virsh, not blocking the event loop (our waiter runs in this process meanwhile). */
function virshAsync(uri: string, line: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn('virsh', ['-c', uri, line], {
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: VIRSH_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let out = '';
    let err = '';
    c.stdout.on('data', (b) => {
      out += b;
    });
    c.stderr.on('data', (b) => {
      err += b;
    });
    c.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

describe.skipIf(!HAS_VIRSH || !LIBVIRTD)(
  `pool-event and secret-event beside virsh on a private libvirtd${HAS_VIRSH && LIBVIRTD ? '' : ' (skipped: no virsh or libvirtd)'}`,
  () => {
    let daemon: Daemon | undefined;
    beforeAll(async () => {
      daemon = await startLibvirtd();
    }, 30_000);
    afterAll(async () => {
      await daemon?.stop();
    });

    const cases = (): [string, string, string][] => {
      const pool = file(
        'dp.xml',
        `<pool type='dir'><name>vk-cli2-ev</name><target><path>${daemon?.dir}/vk-cli2-ev</path></target></pool>\n`,
      );
      return [
        [
          `storage+unix:///session?socket=${daemon?.socket}`,
          'pool-event --event lifecycle --loop --timeout 4',
          `pool-define ${pool}; pool-build vk-cli2-ev; pool-start vk-cli2-ev; pool-refresh vk-cli2-ev; ` +
            'pool-destroy vk-cli2-ev; pool-undefine vk-cli2-ev',
        ],
        [
          `storage+unix:///session?socket=${daemon?.socket}`,
          'pool-event --event refresh --timeout 4',
          `pool-create ${pool}; pool-refresh vk-cli2-ev; pool-destroy vk-cli2-ev`,
        ],
        [
          `secret+unix:///session?socket=${daemon?.socket}`,
          'secret-event --event lifecycle --loop --timeout 4',
          `secret-define ${SECRET}; secret-set-value ${SECRET_UUID} --base64 aGk=; secret-undefine ${SECRET_UUID}`,
        ],
        [
          `secret+unix:///session?socket=${daemon?.socket}`,
          'secret-event --event value-changed --loop --timeout 4',
          `secret-define ${SECRET}; secret-set-value ${SECRET_UUID} --base64 aGk=; secret-undefine ${SECRET_UUID}`,
        ],
      ];
    };

    it('prints the same events as virsh for the same changes', async () => {
      for (const [uri, wait, changes] of cases()) {
        // loads the library and its remote driver first, so ours listens as soon as virsh would
        await runCli(['-c', uri, 'uri']);
        const waitFor = async (run: () => Promise<{ code: number; out: string; err: string }>) => {
          const waiting = run();
          await new Promise((r) => setTimeout(r, 2000));
          const made = await virshAsync(uri, changes);
          expect(made.code).toBe(0);
          return waiting;
        };
        const theirs = await waitFor(() => virshAsync(uri, wait));
        const ours = await waitFor(() => runCli(['-c', uri, wait]));
        expect(ours).toEqual(theirs);
        expect(ours.out).toMatch(/events received: [1-9]/);
      }
    }, 60_000);
  },
);
