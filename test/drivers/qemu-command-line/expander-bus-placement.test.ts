/**
 * An i440fx guest whose root bus fills up while it has PCI expander buses:
 * the devices that no longer fit go onto the expander buses (from slot 0,
 * in bus number order) before any pci-bridge is added. The rule is libvirt
 * 11.3's, as its qemuxmlconf data shows it (pci-expander-bus: 35 NICs, two
 * pxb buses, the last five NICs at 01:00 to 01:04); the document here is
 * our own, with an explicit address in the way.
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

const paths = { domainDir: '/var/lib/x', monitor: { path: '/var/lib/x/monitor.sock' } };

const nic = (i: number) =>
  `<interface type='user'><mac address='52:54:00:00:00:${i.toString(16).padStart(2, '0')}'/><model type='e1000'/></interface>`;

function define(devices: string): DomainDef {
  return applyQemuDefaults(DomainDef.fromXML(tinyDomainXml({ devices, machine: 'pc' })), fixtureCaps());
}

describe('devices past a full root bus', () => {
  it('go onto the expander buses in bus order, and no pci-bridge is added', () => {
    const def = define(
      `<controller type='usb' index='0' model='none'/>
       <controller type='pci' index='0' model='pci-root'/>
       <controller type='pci' index='1' model='pci-expander-bus'><model name='pxb'/><target busNr='254'/></controller>
       <controller type='pci' index='2' model='pci-expander-bus'><model name='pxb'/><target busNr='250'/></controller>
       <memballoon model='none'/>
       ${Array.from({ length: 40 }, (_, i) => nic(i)).join('')}
       <interface type='user'><mac address='52:54:00:00:01:00'/><model type='e1000'/>
         <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></interface>`,
    );
    const ctrls = (def.devices?.controllers ?? []).filter((c) => c.type === 'pci');
    expect(ctrls.map((c) => c.model)).toEqual(['pci-root', 'pci-expander-bus', 'pci-expander-bus']);
    const at = (def.devices?.interfaces ?? []).map((n) =>
      n.address?.type === 'pci' ? `${n.address.bus}:${n.address.slot}` : 'none',
    );
    // root bus: slot 1 is the PIIX3 (IDE), 2 and 3 the expander buses, 4..31 NICs (28 of them)
    expect(at.slice(0, 28)).toEqual(Array.from({ length: 28 }, (_, i) => `0:${i + 4}`));
    // bus 1: slot 0 is taken by the last NIC's own address, so the next ones start at 1
    expect(at.slice(28, 40)).toEqual(Array.from({ length: 12 }, (_, i) => `1:${i + 1}`));
    expect(at[40]).toBe('1:0');
    const { argv } = buildCommandLine(def, fixtureCaps(), paths);
    expect(argv.filter((a) => a.includes('"bus":"pci.1"'))).toHaveLength(13);
    expect(argv.some((a) => a.includes('"driver":"pci-bridge"'))).toBe(false);
  });
});
