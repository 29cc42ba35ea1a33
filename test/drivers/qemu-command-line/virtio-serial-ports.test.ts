/**
 * virtio-serial port assignment at define time. Expected values are those of
 * libvirt 11.3's qemuxmlconf data (channel-virtio-autoadd, console-virtio).
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

const paths = { domainDir: '/var/lib/x', monitor: { path: '/var/lib/x/monitor.sock' } };
const define = (devices: string) =>
  applyQemuDefaults(DomainDef.fromXML(tinyDomainXml({ devices })), fixtureCaps());

describe('virtio-serial ports', () => {
  it('fills ports 1.. of each controller, then adds a controller at the next free index', () => {
    const ch = (n: string) => `<channel type='pty'><target type='virtio' name='${n}'/></channel>`;
    const def = define(
      `<controller type='virtio-serial' index='0' ports='4'/>${['a', 'b', 'c', 'd', 'e'].map(ch).join('')}`,
    );
    const at = (def.devices?.channels ?? []).map((c) =>
      c.address?.type === 'virtio-serial'
        ? `${c.address.controller}.${c.address.bus}:${c.address.port}`
        : '-',
    );
    expect(at).toEqual(['0.0:1', '0.0:2', '0.0:3', '1.0:1', '1.0:2']);
    expect(
      (def.devices?.controllers ?? []).filter((c) => c.type === 'virtio-serial').map((c) => c.index),
    ).toEqual([0, 1]);
  });

  it('leaves a virtio console without an address, and QEMU picks its port', () => {
    const def = define(`<console type='pty'><target type='virtio'/></console>`);
    expect(def.devices?.consoles?.[0]?.address).toBeUndefined();
    const { argv } = buildCommandLine(def, fixtureCaps(), paths);
    expect(argv).toContain('{"driver":"virtconsole","chardev":"charconsole0","id":"console0"}');
  });
});
