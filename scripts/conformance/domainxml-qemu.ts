/**
 * Family `domainxml/qemu`: libvirt's qemuxmlconf cases (DO_TEST_CAPS_LATEST).
 * A case passes when every check libvirt makes of it holds:
 * 1. the input, parsed and given the QEMU driver's define-time defaults,
 *    formats (inactive) to exactly libvirt's expected output XML;
 * 2. that output, parsed the same way, formats to itself byte for byte;
 * 3. the command line we build for it equals libvirt's expected `.args`
 *    (environment, binary, then every argument), compared token by token;
 * and, as libvirt's schema test does for the same files, our domain schema
 * accepts both the input and the output.
 *
 * The caps are libvirt's "latest" QEMU 10.0.0, replayed from its probe
 * transcript. libvirt's harness fixes several things, which we pass the
 * same way: machine aliases are turned into plain machine names (so `pc`
 * stays `pc`), VNC sockets under /var/lib/libvirt/qemu/domain-* count as generated, the DRM
 * render node is /dev/dri/foo, the domain id is -1 so the private dir is
 * /var/lib/libvirt/qemu/domain--1-<name>, the monitor is fd 1729, PATH=/bin,
 * USER=test, new MACs are 52:54:00:00:00:00. XML comments are dropped on
 * parse, as libvirt does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DomainDef } from '../../src/conf/domain/domain-def.js';
import { buildCommandLine } from '../../src/drivers/qemu/command-line/index.js';
import type { NetHost, ResolvedVolume, VolumeRequest } from '../../src/drivers/qemu/command-line/types.js';
import {
  type FirmwareDescriptorFile,
  orderFirmwareDescriptors,
} from '../../src/drivers/qemu/defaults/firmware-descriptor.js';
import { DEFAULT_LEGACY_FIRMWARE } from '../../src/drivers/qemu/defaults/firmware-select.js';
import { applyQemuDefaults } from '../../src/drivers/qemu/defaults/index.js';
import type { QemuDriverConfig } from '../../src/drivers/qemu/driver-config.js';
import { buildQemuCaps, type QemuCaps } from '../../src/drivers/qemu/probe/qemu-caps.js';
import { probeDataFromTranscript } from '../../src/drivers/qemu/probe/transcript.js';
import { VirError } from '../../src/errors.js';
import { xmlDiff } from '../../src/xml/equal.js';
import { validate } from '../../src/xml/validate.js';
import { attempt, type CaseResult, readDataFile } from './types.js';

interface QemuCase {
  name: string;
  family: string;
  expect: 'success' | 'parse-error';
  input: string;
  output?: string;
  args?: string;
  qemuCapsVersion?: string;
}

/**
 * libvirt's test caps for "latest" strip machine aliases: each aliased
 * machine is renamed in place to its alias (so `pc` keeps the first place
 * and is the preferred machine), and a copy under the versioned name,
 * without the default flag, is added at the end.
 */
export function harnessCaps(caps: QemuCaps): QemuCaps {
  const out = structuredClone(caps);
  for (const accel of Object.values(out.accel)) {
    if (!accel) continue;
    const extra = [];
    for (const m of accel.machines) {
      if (m.alias === undefined) continue;
      const { alias, ...rest } = m;
      extra.push({ ...rest, isDefault: false });
      m.name = alias;
      delete m.alias;
    }
    accel.machines.push(...extra);
  }
  return out;
}

export function loadCaps(dataDir: string, version: string): QemuCaps {
  const replies = join(dataDir, 'qemucaps', `caps_${version}_x86_64.replies`);
  return buildQemuCaps(probeDataFromTranscript(readFileSync(replies, 'utf8'), '/usr/bin/qemu-system-x86_64'));
}

/** Splits libvirt's `.args` text (one item a line, ` \` continuations, shell quoting) into tokens. */
export function parseArgsFile(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/ \\\n|\n/)) {
    let i = 0;
    while (i < line.length) {
      if (line[i] === ' ') {
        i++;
        continue;
      }
      let tok = '';
      while (i < line.length && line[i] !== ' ') {
        if (line[i] === "'") {
          const end = line.indexOf("'", i + 1);
          tok += line.slice(i + 1, end);
          i = end + 1;
        } else if (line[i] === '\\' && i + 1 < line.length) {
          tok += line[i + 1];
          i += 2;
        } else tok += line[i++];
      }
      out.push(tok);
    }
  }
  return out;
}

export const HARNESS = {
  defaultArch: 'x86_64',
  generateMac: () => '52:54:00:00:00:00',
  // libvirt's harness mocks random bytes as 0, 1, 2, ...: every generated UUID is this one
  generateUuid: () => '00010203-0405-4607-8809-0a0b0c0d0e0f',
} as const;

/**
 * The host side of NICs as libvirt's qemuxmlconf harness fakes it
 * (tests/qemuxml2argvmock.c and the fake network driver of
 * tests/qemuxmlconftest.c): taps of their own are descriptors 3, 4, ...;
 * taps in a bridge 102, 103, ...; vhost-net 44, 45, ... (one per queue);
 * a vDPA device 1732. A network is named `NETWORK;PORT` after the
 * harness's network and port files; the port's plug type says what the
 * guest gets, and every port the cases use plugs into a bridge
 * (`virbr0` for plug-network-*, `virbr0` for plug-bridge-*).
 */
export const harnessNetHost: NetHost = {
  tapFds: ({ kind, queues }) => Array.from({ length: queues }, (_, i) => (kind === 'ethernet' ? 3 : 102) + i),
  vhostFds: ({ queues }) => Array.from({ length: queues }, (_, i) => 44 + i),
  vdpaFd: () => 1732,
  resolveNetwork: (name) => {
    const port = name.split(';')[1] ?? '';
    // tests/virnetworkportxml2xmldata/plug-hostdev-pci.xml: the function 0001:02:03.4
    if (port === 'plug-hostdev-pci')
      return { type: 'hostdev', pci: { domain: 1, bus: 2, slot: 3, function: 4 } };
    if (port.startsWith('plug-hostdev')) return { type: 'hostdev' };
    if (port.startsWith('plug-direct')) return { type: 'direct' };
    return { type: 'bridge', bridge: 'virbr0' };
  },
};

/**
 * The storage driver libvirt's qemuxmlconf harness fakes (tests/qemuxmlconftest.c):
 * every pool but `inactive` is active; a volume named `TYPE+NAME` is of that
 * type, any other name a block device, at `/some/TYPE/device/NAME`; the
 * volume `nonexistent` is missing. An iSCSI pool's `mode='direct'` needs the
 * pool's own source (a network disk), which virtkit's resolver has no way to
 * give: refused.
 */
export function harnessResolveVolume(req: VolumeRequest): ResolvedVolume {
  const field = req.field;
  if (req.pool === 'inactive')
    throw new VirError(
      'OPERATION_INVALID',
      'storage',
      "storage pool 'inactive' containing volume is not active",
      { field },
    );
  if (req.volume === 'nonexistent')
    throw new VirError('NO_STORAGE_VOL', 'storage', "no storage vol with matching name 'nonexistent'", {
      field,
    });
  if (req.mode !== undefined && !req.pool.startsWith('pool-iscsi'))
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `disk source mode '${req.mode}' is not supported`, {
      field: `${field}/@mode`,
    });
  // the harness's iSCSI pools: portal iscsi.example.com:3260, target demo-target, volumes
  // named unit:0:0:<LUN>; `direct` hands QEMU the LUN itself (pool-iscsi has no CHAP login)
  if (req.mode === 'direct') {
    const lun = /^unit:\d+:\d+:(\d+)$/.exec(req.volume)?.[1];
    if (lun === undefined)
      throw new VirError('NO_STORAGE_VOL', 'storage', `no storage vol with matching name '${req.volume}'`, {
        field,
      });
    return {
      type: 'network',
      protocol: 'iscsi',
      name: `demo-target/${lun}`,
      hosts: [{ name: 'iscsi.example.com', port: '3260' }],
    };
  }
  const plus = req.volume.indexOf('+');
  const [type, name] =
    plus < 0 ? ['block', req.volume] : [req.volume.slice(0, plus), req.volume.slice(plus + 1)];
  if (type !== 'file' && type !== 'block' && type !== 'dir')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `volumes of type '${type}' are not supported`, {
      field,
    });
  return { type, path: `/some/${type}/device/${name}` };
}

/** The cases libvirt's harness runs with `spice_tls = 1` (tests/qemuxmlconftest.c). */
const SPICE_TLS_CASES = new Set([
  'graphics-spice',
  'graphics-spice-no-args',
  'graphics-spice-sasl',
  'graphics-spice-agentmouse',
  'graphics-spice-compression',
  'graphics-spice-timeout',
  'graphics-spice-qxl-vga',
  'graphics-spice-usb-redir',
  'graphics-spice-agent-file-xfer',
  'graphics-spice-socket',
  'graphics-spice-auto-socket',
  'graphics-spice-auto-socket-cfg',
  'graphics-spice-egl-headless',
  'graphics-spice-gl-auto-rendernode',
  'serial-spiceport',
  'channel-spicevmc',
]);

/**
 * qemu.conf as libvirt's harness sets it up (tests/testutilsqemu.c): its
 * certificate and SASL dirs, a SPICE password; everything else libvirt's
 * defaults. The harness turns `spice_tls` on only around the
 * graphics-spice* cases, but its argv checks skip the define-time check
 * that needs it, so cases elsewhere (serial-spiceport, channel-spicevmc)
 * still get their TLS port: on for all is what its output shows.
 */
const HARNESS_CONFIG: Partial<QemuDriverConfig> = {
  spiceTLS: true,
  vncTLSx509certdir: '/etc/pki/libvirt-vnc',
  spiceTLSx509certdir: '/etc/pki/libvirt-spice',
  vncSASLdir: '/etc/sasl2',
  spiceSASLdir: '/etc/sasl2',
  spicePassword: '123456',
};

const PIPEWIRE_ENV = { PIPEWIRE_RUNTIME_DIR: '/run/user/1000' };

/**
 * What tests/qemuxmlconftest.c changes around single cases: qemu.conf
 * settings it turns on for them, and the environment variables it sets.
 */
const CASE_SETTINGS: Record<string, { config?: Partial<QemuDriverConfig>; env?: Record<string, string> }> = {
  'audio-pipewire-minimal': { env: PIPEWIRE_ENV },
  'audio-many-backends': { env: PIPEWIRE_ENV },
  'audio-default-sdl': { env: { QEMU_AUDIO_DRV: 'sdl', SDL_AUDIODRIVER: 'esd' } },
  'audio-default-vnc': { env: { QEMU_AUDIO_DRV: 'alsa' }, config: { vncAllowHostAudio: true } },
  'audio-default-nographics': { env: { QEMU_AUDIO_DRV: 'alsa' }, config: { nogfxAllowHostAudio: true } },
  'graphics-vnc-auto-socket-cfg': { config: { vncAutoUnixSocket: true } },
  'graphics-vnc-sasl': { config: { vncSASL: true } },
  'graphics-vnc-tls': { config: { vncSASL: true, vncTLS: true, vncTLSx509verify: true } },
  'graphics-vnc-tls-secret': {
    config: {
      vncSASL: true,
      vncTLS: true,
      vncTLSx509verify: true,
      vncTLSx509secretUUID: '6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea',
    },
  },
  'graphics-spice-sasl': { config: { spiceSASL: true } },
  'graphics-spice-auto-socket-cfg': { config: { spiceAutoUnixSocket: true } },
};

/** The qemu.conf settings and host environment libvirt's harness runs case `name` with. */
export function harnessSettings(name: string): {
  config: Partial<QemuDriverConfig>;
  hostEnv: Record<string, string>;
} {
  const c = CASE_SETTINGS[name.replace(/^qemu\//, '')];
  // spice_tls is on only around the cases libvirt turns it on for
  const spiceTLS = SPICE_TLS_CASES.has(name.replace(/^qemu\//, ''));
  return { config: { ...HARNESS_CONFIG, spiceTLS, ...c?.config }, hostEnv: { ...c?.env } };
}

/** The harness's paths and settings for domain `name`, run as libvirt's case `caseName` (`qemu/graphics-spice`). */
export function harnessPaths(name: string, caseName = '') {
  const settings = harnessSettings(caseName);
  const short = caseName.replace(/^qemu\//, '');
  // libvirt names the private dir after the id and at most 20 characters of the name.
  const domainDir = `/var/lib/libvirt/qemu/domain--1-${name.slice(0, 20)}`;
  return {
    domainDir,
    monitor: { fd: 1729 },
    masterKeyPath: `${domainDir}/master-key.aes`,
    env: { PATH: '/bin', USER: 'test', LOGNAME: 'test' },
    dbusSocket: `/var/run/libvirt/qemu/dbus/-1-${name}-dbus.sock`,
    // the swtpm socket libvirt's test harness reports
    tpmEmulatorSocket: '/dev/test',
    // libvirt's harness opens a passed-through TPM as fd 1730 and its cancel file as 1731
    tpmPassthrough: () => ({ device: 1730, cancel: 1731 }),
    // libvirt's harness finds every host SCSI LUN at /dev/sg0
    scsiHostDevice: () => '/dev/sg0',
    // and opens /dev/vhost-scsi as fd 3
    vhostScsiFd: () => 3,
    // the managed qemu-pr-helper's socket in the private dir
    prHelperSocket: `${domainDir}/pr-helper0.sock`,
    // where libvirt's passt listens: its passt state dir, the short name and the interface alias
    passtSocket: (alias: string) => `/var/run/libvirt/qemu/passt/-1-${name.slice(0, 20)}-${alias}.socket`,
    // libvirt's harness has qemu-rdp serve rdp graphics (it adds no QEMU option)
    rdpServer: true,
    // libvirt's harness: a fixed master key and IV (bytes counting from 0), and every
    // secret it is asked for holds the same value
    secrets: {
      masterKey: Uint8Array.from({ length: 32 }, (_, i) => i),
      iv: () => Uint8Array.from({ length: 16 }, (_, i) => i),
      value: () => new TextEncoder().encode('AQCVn5hO6HzFAhAAq0NCv8jtJcIcE+HOBlMQ1A'),
    },
    // libvirt's test qemu.conf: NBD client certificates, verified, key password in a secret
    nbdTls: {
      dir: '/etc/pki/libvirt-nbd',
      verifyPeer: true,
      secretUuid: '6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea',
    },
    // libvirt's harness treats only /dev/cdrom as a host optical drive
    isHostCdrom: (path: string) => path === '/dev/cdrom',
    // chardev_tls around the tlsx509 serial cases, verifying clients in the -verify one and
    // with the key's password in a secret in the -secret one (tests/qemuxmlconftest.c)
    chardevTls: {
      enabled: short.startsWith('serial-tcp-tlsx509-'),
      verifyPeer: short === 'serial-tcp-tlsx509-chardev-verify',
      ...(short === 'serial-tcp-tlsx509-secret-chardev'
        ? { secretUuid: '6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea' }
        : {}),
    },
    config: settings.config,
    hostEnv: settings.hostEnv,
    // libvirt's harness gives automatic SPICE ports 5901 (plain) and 5902 (TLS) without allocating
    allocateDisplayPort: (tls: boolean) => (tls ? 5902 : 5901),
    // libvirt's harness opens chardev files as fd 1750 (source) and 1751 (log), listens on fd 1729
    chardevFds: {
      file: (_p: string, _a: boolean, role: 'source' | 'log') => (role === 'source' ? 1750 : 1751),
      unixListen: () => 1729,
    },
    // the render node libvirt's test harness reports for the host
    renderNode: '/dev/dri/foo',
    // the nodeset the harness's numad stand-in advises for placement='auto'
    autoNodeset: '0-3',
    // the host libvirt's NUMA mock describes: four CPUs a node
    hostNodeOfCpu: (cpu: number) => Math.floor(cpu / 4),
    netHost: harnessNetHost,
    resolveVolume: harnessResolveVolume,
    // the harness's /dev/vhost-vsock descriptor (and the CID it picks for cid auto='yes'),
    // and the vhost-user-gpu socket it hands QEMU
    vhostVsock: ({ cid, auto }: { cid?: number; auto: boolean }) => ({
      fd: 6789,
      cid: auto ? 42 : (cid ?? 0),
    }),
    vhostUserGpuFd: () => 1729,
    // libvirt's harness runs at 2009-02-13T23:31:30Z with TZ=VIR00:30 (local time 30 minutes behind UTC)
    clock: { now: 1234567890, localOffset: -1800 },
    memoryBackingDir: `/var/lib/libvirt/qemu/ram/-1-${name.slice(0, 20)}`,
    hugepageDirs: {
      '2048': `/dev/hugepages2M/libvirt/qemu/-1-${name.slice(0, 20)}`,
      '1048576': `/dev/hugepages1G/libvirt/qemu/-1-${name.slice(0, 20)}`,
    },
  };
}

/**
 * The firmware descriptors libvirt's harness installs (tests/qemufirmwaredata, pointed at
 * by tests/testutilsqemu.c), kept as facts in our fixture. The harness's driver is
 * privileged, so the per-user directory does not count.
 */
const FIRMWARE_FIXTURE = new URL('../../fixtures/firmware/libvirt-test-descriptors.json', import.meta.url);
export const HARNESS_FIRMWARE = {
  descriptors: orderFirmwareDescriptors(
    (JSON.parse(readFileSync(FIRMWARE_FIXTURE, 'utf8')) as { files: FirmwareDescriptorFile[] }).files.filter(
      (f) => f.dir !== 'user',
    ),
  ),
  nvramDir: '/var/lib/libvirt/qemu/nvram',
  legacy: DEFAULT_LEGACY_FIRMWARE,
};

export function parseWithDefaults(xml: string, caps: QemuCaps, caseName = ''): DomainDef {
  const def = DomainDef.fromXML(xml.replace(/<!--[\s\S]*?-->[ \t]*\n?/g, ''), {
    ...HARNESS,
    deferImplicitControllers: true,
    // virtkit runs no security driver: its only model is 'none'.
    defaultSecurityModel: 'none',
  });
  applyQemuDefaults(def, caps, {
    libDir: '/var/lib/libvirt/qemu',
    firmware: HARNESS_FIRMWARE,
    ...harnessSettings(caseName),
  });
  return def;
}

async function schemaProblem(what: string, xml: string): Promise<string | undefined> {
  const v = await validate(xml, 'domain');
  if (v.valid) return undefined;
  return `schema (${what}): ${v.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`;
}

/** Every check of one case; undefined when all hold, else what differs first in each. */
export async function runCase(dir: string, c: QemuCase, caps: QemuCaps): Promise<string | undefined> {
  if (c.expect !== 'success') return `unknown expect ${JSON.stringify(c.expect)} for a qemu case`;
  if (!c.output || !c.args) return 'a qemu case needs both an output and an args file';
  const input = readDataFile(dir, c.input, `domainxml/${c.input}`);
  const expected = readDataFile(dir, c.output, `domainxml/${c.output}`);
  const problems: string[] = [];
  const def = parseWithDefaults(input, caps, c.name);
  const actual = def.toXML({ inactive: true });
  if (actual !== expected) problems.push(`defaults: ${xmlDiff(expected, actual) ?? 'formatting differs'}`);
  try {
    const again = parseWithDefaults(expected, caps, c.name).toXML({ inactive: true });
    if (again !== expected)
      problems.push(`output to itself: ${xmlDiff(expected, again) ?? 'formatting differs'}`);
  } catch (err) {
    problems.push(`output to itself: ${err instanceof Error ? err.message : String(err)}`);
  }
  const wantArgv = parseArgsFile(readDataFile(dir, c.args, `domainxml/${c.args}`).trimEnd());
  try {
    const { env, argv } = buildCommandLine(def, caps, harnessPaths(def.name, c.name));
    const ours = [...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv];
    const n = Math.max(ours.length, wantArgv.length);
    for (let i = 0; i < n; i++) {
      if (ours[i] !== wantArgv[i]) {
        problems.push(
          `argv[${i}]: ours ${JSON.stringify(ours[i] ?? null)}, libvirt ${JSON.stringify(wantArgv[i] ?? null)}`,
        );
        break;
      }
    }
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    problems.push(`argv: ${typeof e.code === 'string' ? `${e.code}: ` : ''}${String(e.message ?? err)}`);
  }
  for (const [what, xml] of [
    ['input', input],
    ['output', expected],
  ] as const) {
    const p = await schemaProblem(what, xml);
    if (p) problems.push(p);
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}

export async function run(dataDir: string): Promise<CaseResult[]> {
  const dir = join(dataDir, 'domainxml');
  const cases = (JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as QemuCase[]).filter(
    (c) => c.family === 'qemu',
  );
  const capsByVersion = new Map<string, QemuCaps | Error>();
  const out: CaseResult[] = [];
  for (const c of cases) {
    out.push(
      await attempt(c.name, async () => {
        const version = c.qemuCapsVersion ?? '10.0.0';
        let caps = capsByVersion.get(version);
        if (caps === undefined) {
          try {
            caps = existsSync(join(dataDir, 'qemucaps'))
              ? harnessCaps(loadCaps(dataDir, version))
              : new Error('qemucaps transcript not present');
          } catch (err) {
            caps = err as Error;
          }
          capsByVersion.set(version, caps);
        }
        if (caps instanceof Error) return `no QEMU caps ${version}: ${caps.message}`;
        return await runCase(dir, c, caps);
      }),
    );
  }
  return out;
}
