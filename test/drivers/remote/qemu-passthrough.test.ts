/**
 * libvirt-qemu through the remote driver: the monitor passthrough (QMP and
 * HMP), the agent passthrough and the monitor event tap, over libvirt's QEMU
 * program to a private libvirtd's `qemu:///session` with a small diskless
 * TCG guest, side by side with python3-libvirt's `libvirt_qemu` on the same
 * daemon and guest: the replies, errors and events it gets are what we give.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import type { QemuMonitorEvent } from '../../../src/domain-events.js';
import type { VirError } from '../../../src/errors.js';
import { type Daemon, LIBVIRTD, LIBVIRTD_QEMU_DRIVER, PYTHON_LIBVIRT, startLibvirtd } from './libvirtd.js';

const QEMU = existsSync('/usr/bin/qemu-system-x86_64');
const LIBVIRT_QEMU =
  PYTHON_LIBVIRT !== undefined && execFileSyncOk(PYTHON_LIBVIRT, ['-c', 'import libvirt_qemu']);
const ready = Boolean(LIBVIRTD && LIBVIRT_QEMU && LIBVIRTD_QEMU_DRIVER && QEMU);
if (!ready) {
  console.warn(
    'skipping remote QEMU passthrough tests: they need libvirtd with its QEMU driver ' +
      '(libvirt-daemon-driver-qemu), qemu-system-x86_64 and python3-libvirt with libvirt_qemu',
  );
}

function execFileSyncOk(file: string, args: string[]): boolean {
  try {
    execFileSync(file, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const NAME = 'vk-remnode-qmp';
const guestXml =
  `<domain type='qemu'><name>${NAME}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>` +
  "<os><type arch='x86_64'>hvm</type></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator>" +
  '</devices></domain>';

/** python3-libvirt's libvirt_qemu on the same daemon: each request's reply text or libvirt's error. */
function theirCommands(
  uri: string,
  name: string,
  requests: { cmd: string; hmp?: boolean; agent?: boolean }[],
): ({ reply: string } | { error: number; domain: number })[] {
  const script = `import json, sys, libvirt, libvirt_qemu
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1]); d = c.lookupByName(sys.argv[2]); out = []
for r in json.loads(sys.argv[3]):
    try:
        if r.get('agent'):
            out.append({'reply': libvirt_qemu.qemuAgentCommand(d, r['cmd'], libvirt_qemu.VIR_DOMAIN_QEMU_AGENT_COMMAND_DEFAULT, 0)})
        else:
            flags = libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP if r.get('hmp') else 0
            out.append({'reply': libvirt_qemu.qemuMonitorCommand(d, r['cmd'], flags)})
    except libvirt.libvirtError as e:
        out.append({'error': e.get_error_code(), 'domain': e.get_error_domain()})
print(json.dumps(out))`;
  return JSON.parse(
    execFileSync(PYTHON_LIBVIRT!, ['-c', script, uri, name, JSON.stringify(requests)], {
      encoding: 'utf8',
      timeout: 30_000,
    }),
  ) as ReturnType<typeof theirCommands>;
}

async function errorOf(p: Promise<unknown>): Promise<VirError> {
  return (await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  )) as VirError;
}

describe.skipIf(!ready)('libvirt-qemu passthrough through a real libvirtd (remote driver)', () => {
  let daemon: Daemon;
  let uri: string;
  let conn: Connection;
  let dom: Domain;

  beforeAll(async () => {
    daemon = await startLibvirtd();
    uri = `qemu+unix:///session?socket=${daemon.socket}`;
    conn = await connect(uri);
    dom = await conn.createDomain(guestXml);
  }, 120_000);

  afterAll(async () => {
    await dom?.destroy().catch(() => {});
    await conn?.close();
    await daemon?.stop();
  });

  it('sends QMP commands and gives the reply python3-libvirt gets, QEMU errors as replies', async () => {
    const [status, missing] = theirCommands(uri, NAME, [
      { cmd: '{"execute":"query-status"}' },
      { cmd: '{"execute":"vk-no-such-command"}' },
    ]);
    expect(status).toHaveProperty('reply');
    const theirStatus = JSON.parse((status as { reply: string }).reply) as { return: unknown };
    expect(await dom.qemuMonitorCommand('{"execute":"query-status"}')).toEqual({
      return: theirStatus.return,
    });
    // an object and arguments go the same way
    const name = await dom.qemuMonitorCommand({ execute: 'query-name' });
    expect(name).toEqual({ return: { name: NAME } });
    const theirMissing = JSON.parse((missing as { reply: string }).reply) as {
      error: { class: string; desc: string };
    };
    expect(theirMissing.error.class).toBe('CommandNotFound');
    expect(await dom.qemuMonitorCommand('{"execute":"vk-no-such-command"}')).toEqual({
      error: theirMissing.error,
    });
  });

  it('sends HMP lines with libvirt HMP flag and gives the text python3-libvirt gets', async () => {
    const [theirs] = theirCommands(uri, NAME, [{ cmd: 'info name', hmp: true }]);
    expect(theirs).toEqual({ reply: expect.stringContaining(NAME) });
    expect(await dom.qemuMonitorCommand('info name', { hmp: true })).toBe(
      (theirs as { reply: string }).reply,
    );
  });

  it('refuses the agent passthrough of a guest without an agent channel with libvirt error', async () => {
    const cmd = '{"execute":"guest-ping"}';
    const [theirs] = theirCommands(uri, NAME, [{ cmd, agent: true }]);
    expect(theirs).toHaveProperty('error');
    const err = await errorOf(dom.agent.command(cmd));
    expect(err.libvirtCode).toBe((theirs as { error: number }).error);
  });

  it('taps QMP events: one registration for an exact name (any case) and a RegExp, timestamps as python3-libvirt receives', async () => {
    const py = spawn(
      PYTHON_LIBVIRT!,
      [
        '-c',
        `import json, sys, threading, libvirt, libvirt_qemu
libvirt.virEventRegisterDefaultImpl()
c = libvirt.open(sys.argv[1]); seen = []
def cb(conn, dom, event, seconds, micros, details, opaque):
    seen.append({'name': dom.name(), 'event': event, 'seconds': seconds, 'micros': micros, 'details': details})
libvirt_qemu.qemuMonitorEventRegister(c, None, None, cb, None, 0)
threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()
print('ready', flush=True)
sys.stdin.readline()
print(json.dumps(seen), flush=True)`,
        uri,
      ],
      { stdio: 'pipe' },
    );
    let out = '';
    py.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (!out.startsWith('ready')) return;
        clearInterval(t);
        resolve();
      }, 20);
      py.on('exit', (code) => reject(new Error(`python3-libvirt exited ${code}`)));
    });
    const stops = conn.qemuMonitorEvents({ event: 'stop', domain: NAME });
    const both = conn.qemuMonitorEvents({ event: /^(STOP|RESUME)$/ });
    const take = async (it: AsyncIterable<QemuMonitorEvent>, n: number) => {
      const got: QemuMonitorEvent[] = [];
      for await (const e of it) {
        got.push(e);
        if (got.length === n) break;
      }
      return got;
    };
    await dom.suspend();
    await dom.resume();
    const [ourStops, ourBoth] = await Promise.all([take(stops, 1), take(both, 2)]);
    // python saw every event of the daemon by then: the ones we filtered for came in order
    await new Promise((r) => setTimeout(r, 300));
    py.stdin.write('\n');
    await new Promise((r) => py.on('exit', r));
    const theirs = (
      JSON.parse(out.split('\n')[1] as string) as {
        name: string;
        event: string;
        seconds: number;
        micros: number;
        details: string | null;
      }[]
    ).filter((e) => e.event === 'STOP' || e.event === 'RESUME');
    const view = (e: QemuMonitorEvent) => ({
      name: e.domain.name,
      event: e.event,
      seconds: e.seconds,
      micros: e.micros,
      details: e.details === undefined ? null : JSON.stringify(e.details),
    });
    expect(theirs.map((e) => e.event)).toEqual(['STOP', 'RESUME']);
    expect(ourBoth.map(view)).toEqual(
      theirs.map((e) => ({
        ...e,
        details: e.details === null ? null : JSON.stringify(JSON.parse(e.details)),
      })),
    );
    expect(ourStops.map(view)).toEqual([ourBoth.map(view)[0]]);
    // both ended: the registration is gone; a new stream registers again
    const again = conn.qemuMonitorEvents({ event: 'STOP' });
    await dom.suspend();
    await dom.resume();
    expect((await take(again, 1)).map((e) => e.event)).toEqual(['STOP']);
  });

  it('says what libvirt says for a guest that is not running', async () => {
    const off = `${NAME}-off`;
    const d = await conn.defineDomain(guestXml.replace(`<name>${NAME}</name>`, `<name>${off}</name>`));
    try {
      const [theirs] = theirCommands(uri, off, [{ cmd: '{"execute":"query-status"}' }]);
      const err = await errorOf(d.qemuMonitorCommand('{"execute":"query-status"}'));
      expect(err.code).toBe('OPERATION_INVALID');
      expect(err.libvirtCode).toBe((theirs as { error: number }).error);
    } finally {
      await d.undefine();
    }
  });
});
