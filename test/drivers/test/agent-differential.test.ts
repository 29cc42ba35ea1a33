/**
 * The guest agent calls of the test driver against libvirt's test driver,
 * step by step on `test:///default` (python3-libvirt runs the same steps,
 * agent-runner.py): host names, interface addresses of every source,
 * freeze/thaw counts and refusals, filesystems, the clock, passwords, the
 * shutdown and reboot modes, in each state (running, paused, shut off).
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import { VirError } from '../../../src/errors.js';
import { LIBVIRTD, startLibvirtd } from '../remote/libvirtd.js';
import { hasPythonLibvirt } from './differential-runner.js';

type Step = Record<string, unknown> & { op: string; dom?: string };
type Result = { ok: true; value: unknown } | { ok: false; code: string };

const NETS = `<interface type='network'><source network='default'/><mac address='52:54:00:00:00:01'/></interface>
<interface type='bridge'><source bridge='br0'/><mac address='52:54:00:00:00:02'/></interface>
<interface type='network'><source network='default'/><mac address='52:54:00:00:00:03'/></interface>`;
const DISKS = `<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='sata'/></disk>
<disk type='file' device='disk'><source file='/b'/><target dev='vdb' bus='virtio'/></disk>`;
const xml = (name: string, devices: string) =>
  `<domain type='test'><name>${name}</name><memory>1024</memory><os><type>hvm</type></os><devices>${devices}</devices></domain>`;

const d = (op: string, dom: string, more: Record<string, unknown> = {}): Step => ({ op, dom, ...more });
const STEPS: Step[] = [
  d('hostname', 'test'),
  d('hostname', 'test', { source: 'agent' }),
  d('hostname', 'test', { source: 'lease' }),
  ...['lease', 'agent', 'arp'].map((source) => d('ifaddr', 'test', { source })),
  d('fsinfo', 'test'),
  d('freeze', 'test'),
  d('freeze', 'test'),
  d('thaw', 'test', { mounts: ['/boot'] }),
  d('freeze', 'test', { mounts: ['/', '/boot', '/'] }),
  d('freeze', 'test', { mounts: ['/nope'] }),
  d('thaw', 'test', { mounts: ['/x'] }),
  d('thaw', 'test'),
  d('thaw', 'test'),
  d('gettime', 'test'),
  d('settime', 'test', { seconds: 1_700_000_000, nseconds: 42 }),
  d('gettime', 'test'),
  d('settime', 'test', { sync: true }),
  d('gettime', 'test'),
  d('setpw', 'test', { user: 'root', password: 'secret' }),
  d('reboot', 'test', { mode: 'agent' }),
  d('reboot', 'test', { mode: 'acpi' }),
  d('shutdown', 'test', { mode: 'agent' }),
  d('shutdown', 'test', { mode: 'acpi' }),
  d('suspend', 'test'),
  d('hostname', 'test'),
  d('gettime', 'test'),
  d('settime', 'test', { seconds: 5, nseconds: 0 }),
  d('fsinfo', 'test'),
  d('freeze', 'test'),
  d('ifaddr', 'test', { source: 'agent' }),
  d('resume', 'test'),
  d('destroy', 'test'),
  d('hostname', 'test'),
  d('ifaddr', 'test', { source: 'lease' }),
  d('gettime', 'test'),
  d('settime', 'test', { seconds: 5, nseconds: 0 }),
  d('freeze', 'test'),
  d('fsinfo', 'test'),
  d('setpw', 'test', { user: 'root', password: 'secret' }),
  d('reboot', 'test', { mode: 'agent' }),
  d('start', 'test'),
  d('ifaddr', 'test', { source: 'arp' }),
  d('gettime', 'test'),
  { op: 'define', xml: xml('many', `${NETS}${DISKS}`) },
  d('start', 'many'),
  d('ifaddr', 'many', { source: 'agent' }),
  d('fsinfo', 'many'),
  d('hostname', 'many'),
  { op: 'define', xml: xml('bare', '') },
  d('start', 'bare'),
  d('ifaddr', 'bare', { source: 'lease' }),
  d('fsinfo', 'bare'),
];

const LIVE = hasPythonLibvirt();

function libvirtResults(uri = 'test:///default'): Result[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const r = spawnSync('/usr/bin/python3', [join(here, 'agent-runner.py'), uri], {
    input: JSON.stringify(STEPS),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`agent-runner.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Result[];
}

async function step(conn: Connection, s: Step): Promise<unknown> {
  if (s.op === 'define') return void (await conn.defineDomain(s.xml as string));
  const dom = await conn.lookupDomain(s.dom as string);
  const mounts = s.mounts as string[] | undefined;
  const mode = s.mode as 'acpi' | 'agent' | undefined;
  switch (s.op) {
    case 'start':
    case 'suspend':
    case 'resume':
    case 'destroy':
      return void (await dom[s.op]());
    case 'shutdown':
      return void (await dom.shutdown(mode ? { mode } : {}));
    case 'reboot':
      return void (await dom.reboot(mode ? { mode } : {}));
    case 'hostname':
      return dom.getHostname(s.source ? { source: s.source as 'agent' | 'lease' } : {});
    case 'ifaddr': {
      const got = await dom.interfaceAddresses({ source: s.source as 'lease' | 'agent' | 'arp' });
      return [...got].sort((a, b) => a.name.localeCompare(b.name));
    }
    case 'freeze':
      return dom.agent.fsFreeze(mounts);
    case 'thaw':
      return dom.agent.fsThaw(mounts);
    case 'fsinfo':
      return dom.agent.fsInfo();
    case 'gettime':
      return dom.agent.getTime();
    case 'settime':
      return void (await dom.agent.setTime(
        s.sync ? { sync: true } : { seconds: s.seconds as number, nseconds: s.nseconds as number },
      ));
    case 'setpw':
      return void (await dom.agent.setUserPassword(s.user as string, s.password as string));
  }
  throw new Error(`unknown step ${s.op}`);
}

/** Runs every step on `uri` through virtkit and compares with libvirt's results, step by step. */
async function compare(uri: string, theirs: Result[]): Promise<void> {
  const conn = await connect(uri);
  try {
    const ours: Result[] = [];
    for (const s of STEPS) {
      try {
        const v = await step(conn, s);
        ours.push({ ok: true, value: v === undefined ? null : v });
      } catch (err) {
        ours.push({ ok: false, code: err instanceof VirError ? err.code : String(err) });
      }
    }
    expect(theirs).toHaveLength(STEPS.length);
    for (let i = 0; i < STEPS.length; i++)
      expect(ours[i], `step ${i}: ${JSON.stringify(STEPS[i])}`).toEqual(theirs[i]);
  } finally {
    await conn.close();
  }
}

describe.skipIf(!LIVE)(
  `test driver guest agent calls vs libvirt's test driver${LIVE ? '' : ' (skipped: no python3-libvirt)'}`,
  () => {
    it('gives the same value or error code at every step', async () => {
      await compare('test:///default', libvirtResults());
    });

    it('refuses what libvirt has no test driver answer for with NO_SUPPORT, and bad arguments early', async () => {
      const conn = await connect('test:///default');
      const dom = await conn.lookupDomain('test');
      const code = (p: Promise<unknown>) =>
        p.then(
          () => 'resolved',
          (e: unknown) => (e instanceof VirError ? `${e.code}${e.field ? ` ${e.field}` : ''}` : String(e)),
        );
      expect(await code(dom.agent.ping())).toBe('NO_SUPPORT');
      expect(await code(dom.agent.getOsInfo())).toBe('NO_SUPPORT');
      expect(await code(dom.agent.getUsers())).toBe('NO_SUPPORT');
      expect(await code(dom.agent.command('{"execute":"guest-ping"}'))).toBe('NO_SUPPORT');
      expect(await code(dom.agent.command('guest-ping'))).toBe('INVALID_ARG command');
      expect(await code(dom.agent.fsFreeze([''] as string[]))).toBe('INVALID_ARG mountpoints[0]');
      expect(await code(dom.agent.setTime({ seconds: 1, nseconds: 1e9 }))).toBe('INVALID_ARG nseconds');
      expect(await code(dom.agent.getTime({ timeout: 0 }))).toBe('INVALID_ARG timeout');
      expect(await code(dom.agent.setUserPassword('', 'x'))).toBe('INVALID_ARG user');
      await conn.close();
      const ro = await connect('test:///default', { readonly: true });
      const rdom = await ro.lookupDomain('test');
      expect(await code(rdom.agent.fsFreeze())).toBe('OPERATION_DENIED');
      expect(await rdom.getHostname()).toBe('testhost');
      await ro.close();
    });
  },
);

const REMOTE_OK = LIVE && LIBVIRTD !== undefined;
describe.skipIf(!REMOTE_OK)(
  `remote driver guest agent calls on a private libvirtd${REMOTE_OK ? '' : ' (skipped: no libvirtd or python3-libvirt)'}`,
  () => {
    // test:///default is one host per daemon: python3-libvirt and virtkit each get a fresh daemon
    it('gives what python3-libvirt gets from the same kind of daemon, step by step', async () => {
      const [theirs, ours] = [await startLibvirtd(), await startLibvirtd()];
      try {
        await compare(ours.unixUri, libvirtResults(theirs.unixUri));
      } finally {
        await theirs.stop();
        await ours.stop();
      }
    }, 60_000);
  },
);

it.skipIf(LIVE)('skipped: no python3-libvirt for the agent differential', () => {});
