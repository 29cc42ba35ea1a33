/**
 * The helpers qemu:///session starts for shares and user networking, with
 * real processes: virtiofsd for a virtiofs share (QEMU's vhost-user-fs
 * chardev connected to it) and passt for a passt-backed user interface
 * (QEMU's stream netdev). Each must be gone after destroy, and a start that
 * is refused or fails leaves nothing running and nothing on disk.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import { findVirtiofsd, virtiofsdFeatures } from '../../../src/drivers/qemu/lifecycle/virtiofsd.js';
import { QmpClient } from '../../../src/drivers/qemu/qmp/index.js';
import { isVirError } from '../../../src/errors.js';
import {
  HAS_QEMU,
  monitorPathOf,
  QEMU_BINARY,
  QEMU_NOTE,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';

// the host's own descriptor, as the driver finds it (root: no per-user directory)
const VIRTIOFSD = findVirtiofsd(['/usr/share/qemu/vhost-user', '/etc/qemu/vhost-user']);
const FEATURES = VIRTIOFSD ? await virtiofsdFeatures(VIRTIOFSD) : undefined;
const FS_NOTE = !VIRTIOFSD
  ? " (skipped: no vhost-user descriptor of type 'fs')"
  : process.getuid?.() !== 0
    ? ' (skipped: these checks are for root; unprivileged-helpers.test.ts runs a share as a user)'
    : '';
const PASST = ['/usr/bin/passt', '/usr/local/bin/passt'].find((p) => existsSync(p));
const PASST_NOTE = PASST ? '' : ' (skipped: passt is not installed)';

let roots: TestRoots;
let conn: Connection | undefined;

beforeEach(() => {
  roots = tempRoots('vk-shn-');
});

afterEach(async () => {
  if (conn && !conn.isClosed) {
    for (const d of await conn.listDomains({ active: true })) await d.destroy().catch(() => {});
    await conn.close();
  }
  conn = undefined;
  for (const pid of qemuProcessesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
  for (const name of ['virtiofsd', 'passt'])
    for (const pid of processesMentioning(name, roots.path)) process.kill(pid, 'SIGKILL');
  roots.remove();
});

async function open(extra: Record<string, string> = {}): Promise<Connection> {
  conn = await connect('qemu:///session', {
    driverOptions: {
      cacheDir: null,
      runDir: join(roots.path, 'rundir'),
      stateDir: join(roots.path, 'state'),
      configDir: join(roots.path, 'config'),
      logDir: join(roots.path, 'log'),
      emulators: [QEMU_BINARY],
      ...extra,
    },
  });
  return conn;
}

/** Live processes whose binary is `name` and whose command line mentions `marker`, with their argv. */
function processesMentioning(name: string, marker: string): number[] {
  return processArgv(name, marker).map((p) => p.pid);
}

function processArgv(name: string, marker: string): Array<{ pid: number; argv: string[] }> {
  const out: Array<{ pid: number; argv: string[] }> = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').slice(0, -1);
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const zombie = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
      if (!zombie && (argv[0] ?? '').endsWith(`/${name}`) && argv.join(' ').includes(marker))
        out.push({ pid: Number(e), argv });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function guest(name: string, uuid: string, devices: string, memoryBacking = ''): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>64</memory>
  ${memoryBacking}
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator>${devices}</devices>
</domain>`;
}

const SHARED = "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>";

/** Asks the guest's QEMU over its monitor, with the driver's connection closed meanwhile. */
async function askQemu<T>(uuid: string, ask: (qmp: QmpClient) => Promise<T>): Promise<T> {
  await conn?.close();
  const qmp = await QmpClient.connect(monitorPathOf(join(roots.path, 'state'), uuid));
  try {
    return await ask(qmp);
  } finally {
    await qmp.close();
  }
}

async function refusal(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

async function nothingLeft(uuid: string): Promise<void> {
  // the helpers are stopped, and their directory removed, once QEMU has gone
  const dir = join(roots.path, 'state', 'qemu', `helpers-${uuid}`);
  await until('the helpers directory to go', () => !existsSync(dir));
  expect(qemuProcessesMentioning(roots.path)).toEqual([]);
  expect(processesMentioning('virtiofsd', roots.path)).toEqual([]);
  expect(processesMentioning('passt', roots.path)).toEqual([]);
  expect(existsSync(join(roots.path, 'state', 'qemu', `helpers-${uuid}`))).toBe(false);
}

describe.skipIf(!HAS_QEMU || FS_NOTE !== '')(`virtiofsd for a virtiofs share${QEMU_NOTE}${FS_NOTE}`, () => {
  const share = (inner = '', binary = '') =>
    `<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>${binary}
      <source dir='${join(roots.path, 'share')}'/><target dir='tag0'/>${inner}</filesystem>`;

  it('QEMU realizes its vhost-user-fs device against the daemon; the daemon is gone after destroy', async () => {
    mkdirSync(join(roots.path, 'share'));
    const uuid = 'f5000000-0000-4000-8000-000000000001';
    let c = await open();
    const dom = await c.defineDomain(
      guest(
        'vfs',
        uuid,
        share('', "<binary xattr='on'><lock posix='on' flock='off'/><thread_pool size='4'/></binary>"),
        SHARED,
      ),
    );
    await dom.start({ paused: true });
    const [daemon] = processArgv('virtiofsd', roots.path);
    expect(daemon?.argv[0]).toBe(VIRTIOFSD);
    const socket = join(roots.path, 'state', 'qemu', `helpers-${uuid}`, 'fs0-fs.sock');
    expect(daemon?.argv).toContain(`--socket-path=${socket}`);
    // the C daemon of QEMU 7.2 takes the share's settings as -o options, the Rust one separately
    if (daemon?.argv.includes('-o'))
      expect(daemon.argv).toContain(`source=${join(roots.path, 'share')},xattr,no_flock,posix_lock`);
    else expect(daemon?.argv).toEqual(expect.arrayContaining(['--shared-dir', '--xattr']));
    expect(daemon?.argv).toContain('--thread-pool-size=4');
    // vhost-user-fs-pci is realized only after the vhost-user handshake with the daemon succeeded
    const peripherals = await askQemu(uuid, (q) =>
      q.execute('qom-list', { path: '/machine/peripheral' }).then((r) => r as Array<{ name: string }>),
    );
    expect(peripherals.map((p) => p.name)).toContain('fs0');
    c = await open();
    await (await c.lookupDomain('vfs')).destroy();
    await until('virtiofsd to end', () => processesMentioning('virtiofsd', roots.path).length === 0);
    await nothingLeft(uuid);
  });

  it('what this virtiofsd cannot do is refused before anything starts, naming the field', async () => {
    mkdirSync(join(roots.path, 'share'));
    const c = await open();
    const uuid = 'f5000000-0000-4000-8000-000000000002';
    const cases: Array<[string, string]> = [
      [
        share(
          "<idmap><uid start='0' target='1000' count='1'/><gid start='0' target='1000' count='1'/></idmap>",
        ),
        '/idmap',
      ],
      [share('', "<binary path='/nonexistent/virtiofsd'/>"), '/binary/@path'],
      [share('', "<binary><cache mode='sometimes'/></binary>"), '/binary/cache/@mode'],
    ];
    // the C daemon (QEMU 7.2's) has no read-only mode; the Rust one has --readonly
    if (!FEATURES?.separateOptions) cases.push([share('<readonly/>'), '/readonly']);
    for (const [dev, at] of cases) {
      const dom = await c.defineDomain(guest('vfsbad', uuid, dev, SHARED));
      const err = await refusal(dom.start({ paused: true }));
      expect(isVirError(err), String(err)).toBe(true);
      expect(err).toMatchObject({ code: 'CONFIG_UNSUPPORTED', field: `/domain/devices/filesystem[1]${at}` });
      await nothingLeft(uuid);
      await dom.undefine();
    }
  });
});

describe.skipIf(!HAS_QEMU || !PASST)(
  `passt for a passt-backed user interface${QEMU_NOTE}${PASST_NOTE}`,
  () => {
    const NIC =
      "<interface type='user'><mac address='52:54:00:aa:bb:01'/><ip address='10.0.2.15' prefix='24'/>" +
      "<portForward proto='tcp' address='127.0.0.1'><range start='47022' to='22'/></portForward>" +
      "<model type='virtio'/><backend type='passt'/></interface>";

    it("QEMU's netdev is a stream to passt's socket; passt is gone after destroy", async () => {
      const uuid = 'f5000000-0000-4000-8000-000000000003';
      let c = await open();
      const dom = await c.defineDomain(guest('pst', uuid, NIC));
      await dom.start({ paused: true });
      const socket = join(roots.path, 'state', 'qemu', `helpers-${uuid}`, 'net0-passt.sock');
      const [p] = processArgv('passt', roots.path);
      expect(p?.argv).toEqual(
        expect.arrayContaining([
          '--one-off',
          '--socket',
          socket,
          '--address',
          '10.0.2.15',
          '--netmask',
          '24',
        ]),
      );
      // passt took the forward: it listens on the host port
      const tcp = readFileSync('/proc/net/tcp', 'utf8');
      expect(tcp).toMatch(/0100007F:B7AE 00000000:0000 0A/);
      const info = await askQemu(uuid, (q) =>
        q.execute('human-monitor-command', { 'command-line': 'info network' }).then(String),
      );
      // e.g. "net0: index=0,type=nic,model=virtio-net-pci,macaddr=...\n \\ hostnet0: index=0,type=stream,unix:<path>"
      expect(info).toMatch(/hostnet0: index=0,type=stream/);
      expect(info).toContain(socket);
      expect(info).toContain('52:54:00:aa:bb:01');
      c = await open();
      await (await c.lookupDomain('pst')).destroy();
      await until('passt to end', () => processesMentioning('passt', roots.path).length === 0);
      await nothingLeft(uuid);
    });

    it('a missing passt binary is a typed error and nothing is left behind', async () => {
      const uuid = 'f5000000-0000-4000-8000-000000000004';
      const c = await open({ passt: '/nonexistent/passt' });
      const dom = await c.defineDomain(guest('pstbad', uuid, NIC));
      const err = await refusal(dom.start({ paused: true }));
      expect(isVirError(err), String(err)).toBe(true);
      expect(err).toMatchObject({
        code: 'CONFIG_UNSUPPORTED',
        field: '/domain/devices/interface[1]/backend/@type',
      });
      expect((await dom.getState()).state).toBe('shutoff');
      await nothingLeft(uuid);
    });
  },
);

/** Whether the host's passt has a vhost-user mode: its usage text (stdout or stderr) lists the option. */
function passtHelpMentionsVhostUser(bin: string): boolean {
  const r = spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 10_000 });
  return /--vhost-user/.test(`${r.stdout ?? ''}${r.stderr ?? ''}`);
}
const PASST_VHOST = PASST !== undefined && passtHelpMentionsVhostUser(PASST);

describe.skipIf(!HAS_QEMU || !PASST)(`passt for a vhost-user interface${QEMU_NOTE}${PASST_NOTE}`, () => {
  const NIC =
    "<interface type='vhostuser'><mac address='52:54:00:aa:bb:05'/>" +
    "<model type='virtio'/><backend type='passt'/></interface>";

  it.skipIf(PASST_VHOST)(
    `a passt without vhost-user mode is refused naming the backend, nothing left behind${PASST_VHOST ? ' (skipped: this passt has vhost-user)' : ''}`,
    async () => {
      const uuid = 'f5000000-0000-4000-8000-000000000005';
      const c = await open();
      const dom = await c.defineDomain(guest('pstvu', uuid, NIC, SHARED));
      const err = await refusal(dom.start({ paused: true }));
      expect(isVirError(err), String(err)).toBe(true);
      expect(err).toMatchObject({
        code: 'CONFIG_UNSUPPORTED',
        field: '/domain/devices/interface[1]/backend/@type',
      });
      expect(String((err as Error).message)).toMatch(/vhost-user/);
      expect((await dom.getState()).state).toBe('shutoff');
      await nothingLeft(uuid);
    },
  );

  it.skipIf(!PASST_VHOST)(
    `QEMU's vhost-user netdev connects to passt --vhost-user; passt is gone after destroy${PASST_VHOST ? '' : ' (skipped: this passt has no vhost-user mode)'}`,
    async () => {
      const uuid = 'f5000000-0000-4000-8000-000000000006';
      let c = await open();
      const dom = await c.defineDomain(guest('pstvu2', uuid, NIC, SHARED));
      await dom.start({ paused: true });
      const socket = join(roots.path, 'state', 'qemu', `helpers-${uuid}`, 'net0-passt.sock');
      const [p] = processArgv('passt', roots.path);
      expect(p?.argv).toEqual(expect.arrayContaining(['--vhost-user', '--socket', socket]));
      const info = await askQemu(uuid, (q) =>
        q.execute('human-monitor-command', { 'command-line': 'info network' }).then(String),
      );
      expect(info).toMatch(/hostnet0: index=0,type=vhost-user/);
      c = await open();
      await (await c.lookupDomain('pstvu2')).destroy();
      await until('passt to end', () => processesMentioning('passt', roots.path).length === 0);
      await nothingLeft(uuid);
    },
  );
});

const IS_ROOT = process.getuid?.() === 0;
const BRIDGE_NOTE = IS_ROOT ? '' : ' (skipped: creating a test bridge and taps needs root)';

describe.skipIf(!HAS_QEMU)(`a bridge interface${QEMU_NOTE}`, () => {
  const NIC = (bridge: string) =>
    `<interface type='bridge'><mac address='52:54:00:aa:bb:02'/><source bridge='${bridge}'/><model type='virtio'/></interface>`;

  it('a bridge that does not exist is refused naming <source bridge>, nothing left behind', async () => {
    const uuid = 'f5000000-0000-4000-8000-000000000005';
    const c = await open();
    const dom = await c.defineDomain(guest('nobr', uuid, NIC('vknosuchbr0')));
    const err = await refusal(dom.start({ paused: true }));
    expect(isVirError(err), String(err)).toBe(true);
    expect(err).toMatchObject({
      code: 'CONFIG_UNSUPPORTED',
      field: '/domain/devices/interface[1]/source/@bridge',
    });
    expect(String((err as Error).message)).toMatch(/bridge 'vknosuchbr0' does not exist/);
    await nothingLeft(uuid);
  });

  it.skipIf(!IS_ROOT)(
    `as root: a tap on the bridge, opened by QEMU, gone after destroy${BRIDGE_NOTE}`,
    async () => {
      const br = 'vktestbr0';
      execFileSync('ip', ['link', 'add', br, 'type', 'bridge']);
      try {
        const uuid = 'f5000000-0000-4000-8000-000000000006';
        let c = await open();
        const dom = await c.defineDomain(guest('br', uuid, NIC(br)));
        const tap = 'vkf5000000n0';
        // left by a run whose host process died with its guest: nobody holds it, it is replaced
        execFileSync('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
        await dom.start({ paused: true });
        // attached to the bridge, with the guest's MAC behind fe:
        expect(readlinkSync(`/sys/class/net/${tap}/master`).endsWith(`/${br}`)).toBe(true);
        expect(readFileSync(`/sys/class/net/${tap}/address`, 'utf8').trim()).toBe('fe:54:00:aa:bb:02');
        expect(await dom.getXML()).toMatch(new RegExp(`<target dev='${tap}'/>`));
        const info = await askQemu(uuid, (q) =>
          q.execute('human-monitor-command', { 'command-line': 'info network' }).then(String),
        );
        expect(info).toMatch(new RegExp(`hostnet0: index=0,type=tap,ifname=${tap}`));
        c = await open();
        await (await c.lookupDomain('br')).destroy();
        await nothingLeft(uuid);
        // a re-attached guest's tap is named from its live definition and deleted too
        await until('the tap to go', () => !existsSync(`/sys/class/net/${tap}`));
        // the tap of a guest this connection started goes with it
        const again = await c.lookupDomain('br');
        await again.start({ paused: true });
        expect(existsSync(`/sys/class/net/${tap}`)).toBe(true);
        await again.destroy();
        await until('the tap to go', () => !existsSync(`/sys/class/net/${tap}`));
      } finally {
        if (existsSync('/sys/class/net/vkf5000000n0')) execFileSync('ip', ['link', 'del', 'vkf5000000n0']);
        execFileSync('ip', ['link', 'del', br]);
      }
    },
  );
});
