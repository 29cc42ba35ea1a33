/**
 * How virtiofsd and passt are asked to serve a guest, without running them:
 * the option names and forms follow libvirt 11.3's qemu_virtiofs.c (the
 * Rust daemon's separate options, the C daemon's `-o` list) and
 * qemu_passt.c (`--one-off --socket`, MTU, source dev, log file, the stream
 * netdev QEMU connects with: `server` off, `reconnect` from QEMU 8.0,
 * `reconnect-ms` from 9.2, as in net-user-passt's x86_64-7.2.0 and -latest
 * args). What a daemon cannot do is refused naming the field.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import type { CommandLinePaths } from '../../../src/drivers/qemu/command-line/types.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { passtSpec } from '../../../src/drivers/qemu/lifecycle/passt.js';
import { findVirtiofsd, virtiofsdSpec } from '../../../src/drivers/qemu/lifecycle/virtiofsd.js';
import { fixtureCaps } from '../qemu-command-line/caps-fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 'vk-specs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function def(devices: string): DomainDef {
  return DomainDef.fromXML(`<domain type='qemu'><name>g</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='MiB'>32</memory>
  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>
  <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>${devices}</devices></domain>`);
}

const FILES = { socket: '/run/h/fs0-fs.sock', logFile: '/log/g-fs0-virtiofsd.log' };
const C = { separateOptions: false };
const RUST = { separateOptions: true };
const F = '/domain/devices/filesystem[1]';

function share(binary = '', inner = ''): DomainDef {
  return def(`<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>${binary}
    <source dir='/srv/share'/><target dir='tag'/>${inner}</filesystem>`);
}

function fsOf(d: DomainDef) {
  const fs = d.devices?.filesystems?.[0];
  if (!fs) throw new Error('no filesystem');
  return fs;
}

function refusedAt(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    expect((e as { code?: string }).code).toBe('CONFIG_UNSUPPORTED');
    return (e as { field?: string }).field;
  }
  return undefined;
}

describe('virtiofsd options', () => {
  const BIN =
    "<binary xattr='on'><cache mode='always'/><sandbox mode='chroot'/><thread_pool size='16'/></binary>";

  it('the C daemon takes the share and its settings as one -o list', () => {
    const spec = virtiofsdSpec(
      fsOf(share(BIN.replace('<thread_pool', "<lock posix='off' flock='on'/><thread_pool"))),
      F,
      '/usr/lib/qemu/virtiofsd',
      C,
      FILES,
    );
    expect(spec.argv).toEqual([
      '/usr/lib/qemu/virtiofsd',
      '--socket-path=/run/h/fs0-fs.sock',
      '-o',
      'source=/srv/share,cache=always,sandbox=chroot,xattr,flock,no_posix_lock',
      '--thread-pool-size=16',
    ]);
    expect(spec.socket).toBe(FILES.socket);
    expect(spec.runtimeFiles).toEqual([FILES.socket]);
  });

  it("the Rust daemon takes separate options; libvirt's cache 'none' is its 'never'", () => {
    const spec = virtiofsdSpec(
      fsOf(share(BIN.replace('always', 'none'), '<readonly/>')),
      F,
      '/usr/libexec/virtiofsd',
      RUST,
      FILES,
    );
    expect(spec.argv).toEqual([
      '/usr/libexec/virtiofsd',
      '--socket-path=/run/h/fs0-fs.sock',
      '--shared-dir',
      '/srv/share',
      '--cache',
      'never',
      '--sandbox',
      'chroot',
      '--xattr',
      '--thread-pool-size=16',
      '--readonly',
    ]);
  });

  it('refuses what the daemon found cannot do, naming the field', () => {
    const spec = (d: DomainDef, f: typeof C) => () => virtiofsdSpec(fsOf(d), F, '/v', f, FILES);
    expect(refusedAt(spec(share('', '<readonly/>'), C))).toBe(`${F}/readonly`);
    expect(refusedAt(spec(share("<binary><lock posix='on'/></binary>"), RUST))).toBe(`${F}/binary/lock`);
    expect(refusedAt(spec(share('', "<idmap><uid start='0' target='1000' count='10'/></idmap>"), RUST))).toBe(
      `${F}/idmap`,
    );
    expect(refusedAt(spec(share("<binary><cache mode='sometimes'/></binary>"), C))).toBe(
      `${F}/binary/cache/@mode`,
    );
    expect(refusedAt(spec(share("<binary><sandbox mode='none'/></binary>"), C))).toBe(
      `${F}/binary/sandbox/@mode`,
    );
    expect(refusedAt(spec(share("<binary><thread_pool size='-1'/></binary>"), C))).toBe(
      `${F}/binary/thread_pool/@size`,
    );
    expect(refusedAt(spec(share('<binary><seccomp/></binary>'), C))).toBe(`${F}/binary/seccomp`);
  });

  it('finds the binary from the first fs descriptor by file name, a later directory replacing a file', () => {
    const [a, b] = ['usr', 'etc'].map((d) => join(tmp, d));
    for (const d of [a, b]) mkdirSync(d ?? '', { recursive: true });
    const exe = (name: string) => {
      const p = join(tmp, name);
      writeFileSync(p, '#!/bin/sh\n');
      chmodSync(p, 0o755);
      return p;
    };
    const desc = (dir: string, file: string, type: string, binary: string) =>
      writeFileSync(join(dir, file), JSON.stringify({ description: 'x', type, binary }));
    desc(a ?? '', '10-gpu.json', 'gpu', exe('gpu'));
    desc(a ?? '', '50-fs.json', 'fs', exe('fs-usr'));
    desc(a ?? '', '60-fs.json', 'fs', exe('fs-later'));
    expect(findVirtiofsd([a ?? '', b ?? ''])).toBe(join(tmp, 'fs-usr'));
    desc(b ?? '', '50-fs.json', 'fs', exe('fs-etc'));
    expect(findVirtiofsd([a ?? '', b ?? ''])).toBe(join(tmp, 'fs-etc'));
    // a descriptor whose binary is missing is passed over
    desc(b ?? '', '50-fs.json', 'fs', join(tmp, 'missing'));
    expect(findVirtiofsd([a ?? '', b ?? ''])).toBe(join(tmp, 'fs-later'));
    expect(findVirtiofsd([join(tmp, 'none')])).toBeUndefined();
  });
});

describe('passt', () => {
  const NIC = (inner = '') =>
    `<interface type='user'><mac address='00:11:22:33:44:55'/>${inner}<model type='rtl8139'/><backend type='passt'/></interface>`;

  it('one-off, on its socket, with the MTU, the outbound interface and a log file', () => {
    const d = def(
      NIC("<source dev='eth42'/><mtu size='9000'/>").replace(
        "type='passt'/>",
        "type='passt' logFile='/var/log/p.log'/>",
      ),
    );
    const n = d.devices?.interfaces?.[0];
    if (!n) throw new Error('no interface');
    const spec = passtSpec(n, '/domain/devices/interface[1]', '/usr/bin/passt', {
      socket: '/run/p.sock',
      logFile: '/l',
    });
    expect(spec.argv).toEqual(
      expect.arrayContaining(['--one-off', '--foreground', '--socket', '/run/p.sock']),
    );
    const optionValue = (opt: string) => spec.argv[spec.argv.indexOf(opt) + 1];
    expect(optionValue('--mtu')).toBe('9000');
    expect(optionValue('--interface')).toBe('eth42');
    expect(optionValue('--log-file')).toBe('/var/log/p.log');
  });

  it("addresses and port forwards as passt's options, by libvirt's rules (net-user-passt's interface)", () => {
    const d = def(
      NIC(`<source dev='eth42'/>
      <ip address='172.17.2.0' family='ipv4' prefix='24'/>
      <ip address='2001:db8:ac10:fd01::feed' family='ipv6'/>
      <portForward proto='tcp' address='2001:db8:ac10:fd01::1:10'>
        <range start='22' to='2022'/><range start='1000' end='1050'/>
        <range start='1020' exclude='yes'/><range start='1030' end='1040' exclude='yes'/>
      </portForward>
      <portForward proto='udp' address='1.2.3.4' dev='eth0'>
        <range start='5000' end='5020' to='6000'/><range start='5010' end='5015' exclude='yes'/>
      </portForward>
      <portForward proto='tcp'><range start='80'/></portForward>
      <portForward proto='tcp'><range start='443' to='344'/></portForward>
      <portForward proto='udp'/>`),
    );
    const n = d.devices?.interfaces?.[0];
    if (!n) throw new Error('no interface');
    const argv = passtSpec(n, '/domain/devices/interface[1]', '/usr/bin/passt', {
      socket: '/run/p.sock',
      logFile: '/l',
    }).argv;
    const from = argv.indexOf('--address');
    expect(argv.slice(from, argv.indexOf('--stderr'))).toEqual([
      '--address',
      '172.17.2.0',
      '--netmask',
      '24',
      '--address',
      '2001:db8:ac10:fd01::feed',
      '--tcp-ports',
      '2001:db8:ac10:fd01::1:10/22:2022,1000-1050,~1020,~1030-1040',
      '--udp-ports',
      '1.2.3.4%eth0/5000-5020:6000-6020,~5010-5015',
      '--tcp-ports',
      '80',
      '--tcp-ports',
      '443:344',
      '--udp-ports',
      'all',
    ]);
  });

  it('refuses what passt cannot take: two IPv4 addresses, an IPv6 prefix, a peer', () => {
    const spec = (inner: string) => () => {
      const n = def(NIC(inner)).devices?.interfaces?.[0];
      if (!n) throw new Error('no interface');
      return passtSpec(n, '/domain/devices/interface[1]', '/usr/bin/passt', { socket: '/s', logFile: '/l' });
    };
    expect(refusedAt(spec("<ip address='10.0.0.2'/><ip address='10.0.0.3'/>"))).toBe(
      '/domain/devices/interface[1]/ip[2]',
    );
    expect(refusedAt(spec("<ip address='fd00::2' prefix='64'/>"))).toBe(
      '/domain/devices/interface[1]/ip[1]/@prefix',
    );
    expect(refusedAt(spec("<ip address='10.0.0.2' peer='10.0.0.1'/>"))).toBe(
      '/domain/devices/interface[1]/ip[1]/@peer',
    );
  });

  it('port forwards and addresses on an interface without passt are refused, not dropped', () => {
    const caps = fixtureCaps();
    const user = (inner: string) => () =>
      buildCommandLine(
        applyQemuDefaults(def(`<interface type='user'>${inner}<model type='virtio'/></interface>`), caps),
        caps,
        { domainDir: '/d', monitor: { path: '/d/m' } },
      );
    expect(refusedAt(user("<portForward proto='tcp'><range start='22'/></portForward>"))).toBe(
      '/domain/devices/interface[1]/portForward',
    );
    expect(refusedAt(user("<ip address='10.0.0.2'/>"))).toBe('/domain/devices/interface[1]/ip');
  });

  function netdevOf(versionNumber: number, paths: Partial<CommandLinePaths>): string | undefined {
    const caps = fixtureCaps({ versionNumber });
    const d = applyQemuDefaults(def(NIC()), caps);
    const argv = buildCommandLine(d, caps, { domainDir: '/d', monitor: { path: '/d/m' }, ...paths }).argv;
    return argv[argv.indexOf('-netdev') + 1];
  }

  it('QEMU connects to the socket as a stream client, reconnecting as its version allows', () => {
    const paths = { passtSocket: (alias: string, i: number) => `/run/passt/${alias}-${i}.socket` };
    const addr = '"addr":{"type":"unix","path":"/run/passt/net0-0.socket"},"server":false';
    expect(netdevOf(10_000_000, paths)).toBe(`{"type":"stream",${addr},"reconnect-ms":5000,"id":"hostnet0"}`);
    expect(netdevOf(8_002_000, paths)).toBe(`{"type":"stream",${addr},"reconnect":5,"id":"hostnet0"}`);
    expect(netdevOf(7_002_000, paths)).toBe(`{"type":"stream",${addr},"id":"hostnet0"}`);
  });

  it('is refused when nobody started passt for the interface', () => {
    expect(refusedAt(() => netdevOf(10_000_000, {}))).toBe('/domain/devices/interface[1]/backend/@type');
  });
});

describe('passt behind a vhost-user interface', () => {
  // net-vhostuser-passt: QEMU connects a reconnecting socket chardev to passt, and passt serves vhost-user
  const NIC =
    "<interface type='vhostuser'><mac address='52:54:00:aa:bb:04'/><source dev='eth43'/><model type='virtio'/><backend type='passt'/></interface>";
  const paths = { passtSocket: (alias: string, i: number) => `/run/passt/${alias}-${i}.socket` };

  function argvOf(versionNumber: number, p: Partial<CommandLinePaths>): string[] {
    const caps = fixtureCaps({ versionNumber });
    return buildCommandLine(applyQemuDefaults(def(NIC), caps), caps, {
      domainDir: '/d',
      monitor: { path: '/d/m' },
      ...p,
    }).argv;
  }
  const after = (argv: string[], opt: string, nth = 0) => argv.filter((_, i) => argv[i - 1] === opt)[nth];

  it('a socket chardev to passt, reconnect-ms from QEMU 9.2, reconnect before', () => {
    const latest = argvOf(10_000_000, paths);
    expect(latest.filter((_, i) => latest[i - 1] === '-chardev')).toContain(
      'socket,id=charnet0,path=/run/passt/net0-0.socket,reconnect-ms=5000',
    );
    expect(after(latest, '-netdev')).toBe('{"type":"vhost-user","chardev":"charnet0","id":"hostnet0"}');
    const older = argvOf(8_002_000, paths);
    expect(older.filter((_, i) => older[i - 1] === '-chardev')).toContain(
      'socket,id=charnet0,path=/run/passt/net0-0.socket,reconnect=5',
    );
  });

  it('passt runs in vhost-user mode, with <source dev> as its outbound interface', () => {
    const n = def(NIC).devices?.interfaces?.[0];
    if (!n) throw new Error('no interface');
    const argv = passtSpec(n, '/domain/devices/interface[1]', '/usr/bin/passt', {
      socket: '/s',
      logFile: '/l',
    }).argv;
    expect(argv).toEqual(expect.arrayContaining(['--vhost-user', '--socket', '/s', '--interface', 'eth43']));
  });

  it('is refused when nobody started passt for the interface', () => {
    expect(refusedAt(() => argvOf(10_000_000, {}))).toBe('/domain/devices/interface[1]/backend/@type');
  });
});

describe('a bridge interface on a tap made before QEMU', () => {
  const NIC = (driver = '') =>
    `<interface type='bridge'><mac address='52:54:00:aa:bb:03'/><source bridge='br0'/><model type='virtio'/>${driver}</interface>`;
  function argvOf(devices: string, paths: Partial<CommandLinePaths>): string[] {
    const caps = fixtureCaps();
    return buildCommandLine(applyQemuDefaults(def(devices), caps), caps, {
      domainDir: '/d',
      monitor: { path: '/d/m' },
      ...paths,
    }).argv;
  }

  it('QEMU opens the tap by name, with no scripts', () => {
    const argv = argvOf(NIC(), { bridgeTap: (i) => (i === 0 ? 'vktap0' : undefined) });
    expect(argv[argv.indexOf('-netdev') + 1]).toBe(
      '{"type":"tap","ifname":"vktap0","script":"no","downscript":"no","id":"hostnet0"}',
    );
  });

  it('refuses what such a tap cannot carry, and a bridge interface nobody made a tap for', () => {
    const tap = { bridgeTap: () => 'vktap0' };
    expect(refusedAt(() => argvOf(NIC("<driver name='vhost'/>"), tap))).toBe(
      '/domain/devices/interface[1]/driver/@name',
    );
    expect(refusedAt(() => argvOf(NIC("<driver queues='2'/>"), tap))).toBe(
      '/domain/devices/interface[1]/driver/@queues',
    );
    expect(refusedAt(() => argvOf(NIC(), {}))).toBe('/domain/devices/interface[1]/@type');
  });
});
