/**
 * USB redirection and USB port placement, by libvirt 11.3's rules
 * (domain_conf.c's redirfilter parser and formatter, qemu_command.c's
 * usb-redir props, qemu_domain_address.c's hub auto-add): the cases of
 * libvirt's own data are run by shared-cases.test.ts; these are the
 * rules' edges that data does not reach.
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { VirError } from '../../../src/errors.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

const paths = { domainDir: '/var/lib/x', monitor: { path: '/var/lib/x/monitor.sock' } };

function define(devices: string): DomainDef {
  return applyQemuDefaults(DomainDef.fromXML(tinyDomainXml({ devices })), fixtureCaps());
}

function devices(def: DomainDef): Array<Record<string, unknown>> {
  const argv = buildCommandLine(def, fixtureCaps(), paths).argv;
  return argv.flatMap((a, i) =>
    argv[i - 1] === '-device' ? [JSON.parse(a) as Record<string, unknown>] : [],
  );
}

function thrown(f: () => unknown): VirError {
  try {
    f();
  } catch (e) {
    if (e instanceof VirError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('<redirfilter>', () => {
  it('reads a one-digit minor version as tens and writes two digits (libvirt: 9.4 is 9.40)', () => {
    const def = define(`<redirfilter>
      <usbdev vendor='0x15e1' version='9.4' allow='yes'/>
      <usbdev class='8' version='1.09' allow='no'/>
    </redirfilter>`);
    const xml = def.toXML({ inactive: true });
    expect(xml).toContain(`<usbdev vendor='0x15E1' version='9.40' allow='yes'/>`);
    expect(xml).toContain(`<usbdev class='0x08' version='1.09' allow='no'/>`);
  });

  it('refuses a version that is not major.minor below 100', () => {
    for (const v of ['100.1', '1', '1.2.3', 'x.y'])
      expect(() => define(`<redirfilter><usbdev version='${v}' allow='yes'/></redirfilter>`)).toThrow(
        VirError,
      );
  });

  it('is the filter of every usb-redir device, -1 for what a rule leaves open', () => {
    const def = define(`<controller type='usb' index='0' model='qemu-xhci'/>
      <redirdev bus='usb' type='spicevmc'/>
      <redirdev bus='usb' type='pty'/>
      <graphics type='spice'/>
      <redirfilter><usbdev product='0x2007' version='2.0' allow='yes'/><usbdev allow='no'/></redirfilter>`);
    const redir = devices(def).filter((d) => d.driver === 'usb-redir');
    expect(redir.map((d) => d.filter)).toEqual([
      '-1:-1:0x2007:0x0200:1|-1:-1:-1:-1:0',
      '-1:-1:0x2007:0x0200:1|-1:-1:-1:-1:0',
    ]);
  });
});

describe('USB ports', () => {
  it('adds hubs when devices outnumber ports, each hub spending one port on the chain', () => {
    // PIIX3 UHCI: 2 root ports; 10 devices need ceil((10 - 2 + 1) / 7) = 2 hubs.
    const inputs = Array.from({ length: 10 }, () => `<input type='tablet' bus='usb'/>`).join('');
    const def = define(`<controller type='usb' index='0' model='piix3-uhci'/>${inputs}`);
    const d = devices(def);
    expect(d.filter((x) => x.driver === 'usb-hub').map((x) => `${x.id}@${x.port}`)).toEqual([
      'hub0@1',
      'hub1@2',
    ]);
    expect(d.filter((x) => x.driver === 'usb-tablet').map((x) => x.port)).toEqual([
      '1.1',
      '1.2',
      '1.3',
      '1.4',
      '1.5',
      '1.6',
      '1.7',
      '1.8',
      '2.1',
      '2.2',
    ]);
  });

  it('refuses USB devices on a guest without USB, naming the controller', () => {
    const def = define(
      `<controller type='usb' index='0' model='none'/><redirdev bus='usb' type='spicevmc'/>`,
    );
    const e = thrown(() => buildCommandLine(def, fixtureCaps(), paths));
    expect(e.code).toBe('CONFIG_UNSUPPORTED');
    expect(e.field).toBe('/domain/devices/controller[@type=usb]/@model');
  });

  it('refuses a spicevmc redirdev without SPICE graphics', () => {
    const def = define(`<redirdev bus='usb' type='spicevmc'/>`);
    const e = thrown(() => buildCommandLine(def, fixtureCaps(), paths));
    expect([e.code, e.field]).toEqual(['CONFIG_UNSUPPORTED', '/domain/devices/redirdev[1]/@type']);
  });

  it('refuses a redirdev whose address is not a USB one', () => {
    const def = define(`<redirdev bus='usb' type='pty'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x09' function='0x0'/></redirdev>`);
    const e = thrown(() => buildCommandLine(def, fixtureCaps(), paths));
    expect(e.field).toBe('/domain/devices/redirdev[1]/address/@type');
  });
});
