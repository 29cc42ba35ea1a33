/**
 * ICH9 USB2 sets and Q35 chipset placement at define time, and the parse
 * order of controllers. Expected addresses and argv are those of libvirt
 * 11.3's qemuxmlconf data (usb-controller-ich9-ehci-addr, q35-usb2,
 * q35-usb2-reorder).
 */
import { describe, expect, it } from 'vitest';
import type { ControllerDef } from '../../../src/conf/domain/index.js';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

const paths = { domainDir: '/var/lib/x', monitor: { path: '/var/lib/x/monitor.sock' } };

function define(devices: string, machine = 'pc'): DomainDef {
  return applyQemuDefaults(DomainDef.fromXML(tinyDomainXml({ devices, machine })), fixtureCaps());
}

const where = (c: ControllerDef) => {
  const a = c.address;
  if (a?.type !== 'pci') return `${c.model}@none`;
  return `${c.model}@${a.bus}:${a.slot}.${a.function}${a.multifunction ? '+mf' : ''}`;
};
const usb = (d: DomainDef) => (d.devices?.controllers ?? []).filter((c) => c.type === 'usb');

describe('ICH9 USB2 sets', () => {
  it('keeps each set in one slot at fixed functions, sorted by index, with default start ports', () => {
    const ctl = (i: number, m: string) => `<controller type='usb' index='${i}' model='${m}'/>`;
    const def = define(
      ctl(0, 'ich9-ehci1') +
        ctl(1, 'ich9-ehci1') +
        ctl(0, 'ich9-uhci1') +
        ctl(1, 'ich9-uhci2') +
        ctl(0, 'ich9-uhci2') +
        ctl(1, 'ich9-uhci1'),
    );
    expect(usb(def).map((c) => `${c.index}:${where(c)}:${c.master?.startport ?? '-'}`)).toEqual([
      '0:ich9-ehci1@0:2.7:-',
      '0:ich9-uhci1@0:2.0+mf:0',
      '0:ich9-uhci2@0:2.1:2',
      '1:ich9-ehci1@0:3.7:-',
      '1:ich9-uhci2@0:3.1:2',
      '1:ich9-uhci1@0:3.0+mf:0',
    ]);
    const { argv } = buildCommandLine(def, fixtureCaps(), paths);
    expect(argv).toContain('{"driver":"ich9-usb-ehci1","id":"usb","bus":"pci.0","addr":"0x2.0x7"}');
    expect(argv).toContain(
      '{"driver":"ich9-usb-uhci1","masterbus":"usb.0","firstport":0,"bus":"pci.0","multifunction":true,"addr":"0x2"}',
    );
  });

  it('on Q35 puts the first sets at 00:1d and 00:1a, the DMI bridge at 00:1e, and the rest on a PCI bridge', () => {
    const sets = [0, 1, 2]
      .flatMap((i) =>
        ['ehci1', 'uhci1', 'uhci2', 'uhci3'].map(
          (m) => `<controller type='usb' index='${i}' model='ich9-${m}'/>`,
        ),
      )
      .join('');
    const def = define(
      `<controller type='pci' index='0' model='pcie-root'/>
       <controller type='pci' index='1' model='dmi-to-pci-bridge'/>
       <controller type='pci' index='2' model='pci-bridge'><target memReserve='8196'/></controller>${sets}<memballoon model='none'/>`,
      'q35',
    );
    const ctrls = def.devices?.controllers ?? [];
    expect(ctrls.filter((c) => c.type === 'pci' && c.index !== 0).map(where)).toEqual([
      'dmi-to-pci-bridge@0:30.0',
      'pci-bridge@1:0.0',
    ]);
    // No device needed a PCIe port, so none was added.
    expect(ctrls.some((c) => c.model === 'pcie-root-port')).toBe(false);
    expect(
      usb(def)
        .filter((c) => c.model === 'ich9-uhci1')
        .map(where),
    ).toEqual(['ich9-uhci1@0:29.0+mf', 'ich9-uhci1@0:26.0+mf', 'ich9-uhci1@2:1.0+mf']);
    const { argv } = buildCommandLine(def, fixtureCaps(), paths);
    expect(argv).toContain(
      '{"driver":"pci-bridge","chassis_nr":2,"mem-reserve":8392704,"id":"pci.2","bus":"pci.1","addr":"0x0"}',
    );
  });
});

describe('conventional PCI devices on Q35', () => {
  it('get a pcie-to-pci-bridge on its own root port, plus one spare port', () => {
    // As libvirt 11.3's watchdog-q35-multiple.
    const def = define(
      `<controller type='pci' index='0' model='pcie-root'/><controller type='usb' index='0'/>
       <watchdog model='i6300esb' action='poweroff'/><watchdog model='i6300esb' action='poweroff'/>
       <memballoon model='none'/>`,
      'q35',
    );
    const ctrls = def.devices?.controllers ?? [];
    expect(
      ctrls.filter((c) => c.type === 'pci' && c.index !== 0).map((c) => `${c.index}:${where(c)}`),
    ).toEqual(['1:pcie-root-port@0:1.0+mf', '2:pcie-to-pci-bridge@1:0.0', '3:pcie-root-port@0:1.1']);
    expect(usb(def).map(where)).toEqual(['piix3-uhci@2:1.0']);
    const w = (def.devices?.watchdogs ?? []).map((x) => (x.address?.type === 'pci' ? x.address.slot : -1));
    // The third is the implicit iTCO watchdog of the Q35 chipset, which has no PCI address.
    expect(w).toEqual([2, 3, -1]);
  });
});

describe('USB controllers without an index', () => {
  it('join the USB2 set just before them unless it has their model already (as libvirt 11.3 autoindex)', () => {
    const models = [
      'ich9-ehci1',
      'ich9-uhci1',
      'ich9-ehci1',
      'ich9-uhci1',
      'ich9-uhci1',
      'nec-xhci',
      'ich9-uhci2',
    ];
    const def = DomainDef.fromXML(
      tinyDomainXml({ devices: models.map((m) => `<controller type='usb' model='${m}'/>`).join('') }),
    );
    expect(usb(def).map((c) => `${c.index}:${c.model}`)).toEqual([
      '0:ich9-ehci1',
      '0:ich9-uhci1',
      '1:ich9-ehci1',
      '1:ich9-uhci1',
      '2:ich9-uhci1',
      '3:nec-xhci',
      '4:ich9-uhci2',
    ]);
  });
});
