/**
 * Character device rules of libvirt 11.3 that its qemuxmlconf data
 * reaches only in part: generated virtio channel sockets (qemu_domain.c's
 * channel preparation and default-path matching), chardev TLS from the
 * driver's settings (qemu_command.c's x509 props), serial and parallel
 * port numbering (domain_postparse.c, domain_conf.c).
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

const paths = { domainDir: '/run/vk/dom', monitor: { path: '/run/vk/dom/monitor.sock' } };

function define(devices: string, libDir?: string): DomainDef {
  return applyQemuDefaults(
    DomainDef.fromXML(tinyDomainXml({ devices })),
    fixtureCaps(),
    libDir === undefined ? {} : { libDir },
  );
}

const chardevs = (argv: string[]) => argv.filter((_, i) => argv[i - 1] === '-chardev');
const objects = (argv: string[]) =>
  argv.filter((_, i) => argv[i - 1] === '-object').map((a) => JSON.parse(a));

describe('virtio channel sockets', () => {
  it('listens under the channel dir, named after the target or the port', () => {
    const def = define(`<controller type='virtio-serial' index='0'/>
      <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
      <channel type='unix'><target type='virtio'/></channel>`);
    const argv = buildCommandLine(def, fixtureCaps(), {
      ...paths,
      channelDir: '/run/vk/channel/1-tiny',
    }).argv;
    expect(chardevs(argv).filter((c) => c.includes('charchannel'))).toEqual([
      'socket,id=charchannel0,path=/run/vk/channel/1-tiny/org.qemu.guest_agent.0,server=on,wait=off',
      'socket,id=charchannel1,path=/run/vk/channel/1-tiny/vioser-00-00-02.sock,server=on,wait=off',
    ]);
  });

  it('forgets a path an earlier run generated, in any of the layouts libvirt used, and keeps the others', () => {
    const ch = (path: string) =>
      `<channel type='unix'><source mode='bind' path='${path}'/><target type='virtio' name='org.x'/></channel>`;
    const def = define(
      ch('/var/lib/vk/channel/target/domain-5-old/org.x') +
        ch('/var/lib/vk/channel/old.org.x') +
        ch('/var/lib/vk/channel/target/domain-old/org.x') +
        ch('/srv/sockets/org.x') +
        ch('/var/lib/vk/channel/a/b/org.x'),
      '/var/lib/vk',
    );
    expect(def.devices?.channels?.map((c) => c.sources?.[0]?.path)).toEqual([
      undefined,
      undefined,
      undefined,
      '/srv/sockets/org.x',
      '/var/lib/vk/channel/a/b/org.x',
    ]);
  });
});

describe('TCP chardev TLS from the driver settings', () => {
  const serials = `<serial type='tcp'><source mode='connect' host='127.0.0.1' service='5555'/></serial>
    <serial type='tcp'><source mode='bind' host='127.0.0.1' service='5556'/></serial>
    <serial type='tcp'><source mode='connect' host='127.0.0.1' service='5557' tls='no'/></serial>`;

  it('follows chardev_tls where the source does not say; only a server may skip verifying', () => {
    const argv = buildCommandLine(define(serials), fixtureCaps(), {
      ...paths,
      chardevTls: { enabled: true, dir: '/etc/vk/chardev', verifyPeer: false },
    }).argv;
    expect(objects(argv).filter((o) => o['qom-type'] === 'tls-creds-x509')).toEqual([
      {
        'qom-type': 'tls-creds-x509',
        id: 'objcharserial0_tls0',
        dir: '/etc/vk/chardev',
        endpoint: 'client',
        'verify-peer': true,
      },
      {
        'qom-type': 'tls-creds-x509',
        id: 'objcharserial1_tls0',
        dir: '/etc/vk/chardev',
        endpoint: 'server',
        'verify-peer': false,
      },
    ]);
    expect(chardevs(argv).find((c) => c.includes('charserial2'))).not.toContain('tls-creds');
  });

  it('is off without chardev_tls', () => {
    const argv = buildCommandLine(define(serials), fixtureCaps(), paths).argv;
    expect(argv.join(' ')).not.toContain('tls-creds');
  });
});

describe('port numbers', () => {
  it('gives an ISA serial port without one the lowest free number, a parallel port the next after those before it', () => {
    const def = define(`<serial type='pty'/><serial type='pty'><target port='0'/></serial><serial type='pty'/>
      <parallel type='pty'><target port='2'/></parallel><parallel type='pty'/>`);
    expect(def.devices?.serials?.map((s) => s.target?.port)).toEqual(['1', '0', '2']);
    expect(def.devices?.parallels?.map((p) => p.target?.port)).toEqual(['2', '3']);
  });
});
