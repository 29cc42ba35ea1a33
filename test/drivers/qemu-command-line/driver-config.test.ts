/**
 * qemu.conf's settings as an input of the QEMU driver: the default audio
 * backend (libvirt's qemuDomainDefSuggestDefaultAudioBackend rules) and
 * what VNC and SPICE listen on and authenticate with. Expected tokens are
 * libvirt 11.3's for the same settings (its qemuxmlconf cases
 * audio-default-*, graphics-vnc-auto-socket-cfg, graphics-vnc-sasl,
 * graphics-vnc-tls, graphics-spice-timeout, graphics-spice-auto-socket-cfg).
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { buildCommandLine, type CommandLinePaths } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults, type QemuDefaultsOptions } from '../../../src/drivers/qemu/defaults/index.js';
import { DEFAULT_QEMU_DRIVER_CONFIG, driverConfig } from '../../../src/drivers/qemu/driver-config.js';
import type { VirError } from '../../../src/errors.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

const PATHS: CommandLinePaths = { domainDir: '/run/vk/dom', monitor: { path: '/run/vk/dom/monitor.sock' } };

function define(devices: string, options: QemuDefaultsOptions = {}) {
  return applyQemuDefaults(DomainDef.fromXML(tinyDomainXml({ devices })), fixtureCaps(), options);
}

function audios(devices: string, options: QemuDefaultsOptions = {}) {
  return (define(devices, options).devices?.audios ?? []).map((a) => ({ ...a }));
}

function build(devices: string, paths: CommandLinePaths = PATHS) {
  return buildCommandLine(define(devices), fixtureCaps(), paths);
}

function values(argv: string[], opt: string): string[] {
  return argv.flatMap((a, i) => (a === opt && i + 1 < argv.length ? [argv[i + 1]!] : []));
}

describe('driver configuration', () => {
  it("starts from libvirt's qemu.conf defaults", () => {
    expect(driverConfig(undefined)).toEqual(DEFAULT_QEMU_DRIVER_CONFIG);
    expect(driverConfig({ vncSASL: true }).vncSASL).toBe(true);
    expect(DEFAULT_QEMU_DRIVER_CONFIG.vncListen).toBe('127.0.0.1');
    expect(DEFAULT_QEMU_DRIVER_CONFIG.vncTLSx509certdir).toBe('/etc/pki/qemu');
  });
});

describe('default audio backend', () => {
  const vnc = `<graphics type='vnc'/>`;
  it('is none without graphics and for VNC, spice for SPICE, absent for D-Bus and RDP only', () => {
    expect(audios('')).toEqual([{ id: 1, type: 'none' }]);
    expect(audios(vnc)).toEqual([{ id: 1, type: 'none' }]);
    expect(audios(`<graphics type='spice' autoport='yes'/>`)).toEqual([{ id: 1, type: 'spice' }]);
    expect(audios(`<graphics type='dbus'/>`)).toEqual([]);
    expect(audios(`<graphics type='rdp' autoport='yes'/>`)).toEqual([]);
  });

  it("takes the host's backend where qemu.conf allows it and QEMU_AUDIO_DRV names one", () => {
    const env = { QEMU_AUDIO_DRV: 'alsa' };
    expect(audios(vnc, { hostEnv: env })).toEqual([{ id: 1, type: 'none' }]);
    expect(audios(vnc, { hostEnv: env, config: { vncAllowHostAudio: true } })).toEqual([
      { id: 1, type: 'alsa' },
    ]);
    expect(audios('', { hostEnv: { QEMU_AUDIO_DRV: 'pa' }, config: { nogfxAllowHostAudio: true } })).toEqual([
      { id: 1, type: 'pulseaudio' },
    ]);
    // allowed but not named: no backend at all
    expect(audios('', { config: { nogfxAllowHostAudio: true } })).toEqual([]);
  });

  it("gives SDL graphics the host's backend only when QEMU_AUDIO_DRV names one", () => {
    const sdl = `<graphics type='sdl'/>`;
    expect(audios(sdl)).toEqual([]);
    expect(audios(sdl, { hostEnv: { QEMU_AUDIO_DRV: 'sdl', SDL_AUDIODRIVER: 'esd' } })).toEqual([
      { id: 1, type: 'sdl', driver: 'esd' },
    ]);
    for (const hostEnv of [{ QEMU_AUDIO_DRV: 'beep' }, { QEMU_AUDIO_DRV: 'sdl', SDL_AUDIODRIVER: 'x' }]) {
      try {
        audios(sdl, { hostEnv });
        expect.unreachable();
      } catch (e) {
        expect((e as VirError).code).toBe('CONFIG_UNSUPPORTED');
      }
    }
  });
});

describe('VNC and SPICE from qemu.conf', () => {
  const vnc = `<graphics type='vnc' port='5903' autoport='no'><listen type='address'/></graphics>`;
  it("listens on qemu.conf's address, or on a socket in the domain dir with auto_unix_socket", () => {
    expect(values(build(vnc).argv, '-vnc')).toEqual(['127.0.0.1:3,audiodev=audio1']);
    expect(values(build(vnc, { ...PATHS, config: { vncListen: '0.0.0.0' } }).argv, '-vnc')).toEqual([
      '0.0.0.0:3,audiodev=audio1',
    ]);
    expect(values(build(vnc, { ...PATHS, config: { vncAutoUnixSocket: true } }).argv, '-vnc')).toEqual([
      'vnc=unix:/run/vk/dom/vnc.sock,audiodev=audio1',
    ]);
    const spice = `<graphics type='spice' port='5900' autoport='no'/>`;
    expect(values(build(spice).argv, '-spice')).toEqual([
      'port=5900,addr=127.0.0.1,disable-ticketing=on,seamless-migration=on',
    ]);
    expect(values(build(spice, { ...PATHS, config: { spiceAutoUnixSocket: true } }).argv, '-spice')).toEqual([
      'unix=on,addr=/run/vk/dom/spice.sock,disable-ticketing=on,seamless-migration=on',
    ]);
  });

  it('uses x509 server credentials, their key password as a secret object, and SASL', () => {
    const secrets = {
      masterKey: Uint8Array.from({ length: 32 }, (_, i) => i),
      iv: () => Uint8Array.from({ length: 16 }, (_, i) => i),
      value: () => new TextEncoder().encode('key-password'),
    };
    const cl = build(vnc, {
      ...PATHS,
      masterKeyPath: '/run/vk/dom/master-key.aes',
      secrets,
      config: {
        vncTLS: true,
        vncTLSx509certdir: '/etc/pki/libvirt-vnc',
        vncTLSx509secretUUID: '6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea',
        vncSASL: true,
        vncSASLdir: '/etc/sasl2',
      },
    });
    expect(cl.env.SASL_CONF_PATH).toBe('/etc/sasl2');
    expect(values(cl.argv, '-vnc')).toEqual(['127.0.0.1:3,tls-creds=vnc-tls-creds0,sasl=on,audiodev=audio1']);
    const objects = values(cl.argv, '-object').map((o) => JSON.parse(o) as Record<string, unknown>);
    const creds = objects.find((o) => o['qom-type'] === 'tls-creds-x509');
    expect(creds).toEqual({
      'qom-type': 'tls-creds-x509',
      id: 'vnc-tls-creds0',
      dir: '/etc/pki/libvirt-vnc',
      endpoint: 'server',
      'verify-peer': true,
      passwordid: 'vnc-tls-creds0-secret0',
    });
    const secret = objects.find((o) => o.id === 'vnc-tls-creds0-secret0');
    expect(secret?.format).toBe('base64');
    expect(cl.argv.join(' ')).not.toContain('key-password');
  });

  it("sets qemu.conf's password over QMP, never on the command line", () => {
    const cl = build(vnc, { ...PATHS, config: { vncPassword: 'from-conf' } });
    expect(values(cl.argv, '-vnc')).toEqual(['127.0.0.1:3,password=on,audiodev=audio1']);
    expect(cl.argv.join(' ')).not.toContain('from-conf');
    expect(cl.monitorCommands?.[0]).toEqual({
      execute: 'set_password',
      arguments: { protocol: 'vnc', password: 'from-conf' },
    });
  });
});

// libvirt 11.3's qemuxmlconf case net-virtio-teaming-network: a network port of plug type hostdev-pci
describe('a virtual network handing out host PCI functions', () => {
  const netHost = {
    tapFds: () => [102],
    vhostFds: () => [],
    vdpaFd: () => 0,
    resolveNetwork: (name: string) =>
      name === 'pool'
        ? { type: 'hostdev' as const, pci: { domain: 1, bus: 2, slot: 3, function: 4 } }
        : name === 'nopci'
          ? { type: 'hostdev' as const }
          : { type: 'bridge' as const, bridge: 'virbr0' },
  };
  const iface = (net: string) =>
    `<interface type='network'><mac address='00:11:22:33:44:55'/><source network='${net}'/><model type='virtio'/>
      <teaming type='transient' persistent='ua-backup0'/></interface>
     <interface type='network'><mac address='00:11:22:33:44:55'/><source network='lan'/><model type='virtio'/>
      <teaming type='persistent'/><alias name='ua-backup0'/></interface>`;

  it('gives the guest the function as vfio-pci, paired with its failover partner', () => {
    const argv = build(iface('pool'), { ...PATHS, netHost }).argv;
    const vfio = values(argv, '-device').find((d) => d.includes('vfio-pci'));
    expect(vfio).toMatch(
      /^\{"driver":"vfio-pci","host":"0001:02:03.4","id":"hostdev0","failover_pair_id":"ua-backup0",/,
    );
    expect(values(argv, '-netdev')).toHaveLength(1);
  });

  it('refuses a host-device network that names no function', () => {
    try {
      build(iface('nopci'), { ...PATHS, netHost });
      expect.unreachable();
    } catch (e) {
      expect((e as VirError).code).toBe('CONFIG_UNSUPPORTED');
      expect((e as VirError).field).toBe('/domain/devices/interface[1]/source/@network');
    }
  });
});
