/**
 * Platform options of my area: ACPI sleep states, the default machine and
 * its aliases. Expected values come from libvirt 11.3's qemuxmlconf data
 * (case named per test) and libvirt's rules.
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { buildCommandLine, type CommandLinePaths } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { VirError } from '../../../src/errors.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

const PATHS: CommandLinePaths = {
  domainDir: '/run/vk/dom',
  monitor: { path: '/run/vk/dom/monitor.sock' },
};

function defaults(xml: string): DomainDef {
  return applyQemuDefaults(DomainDef.fromXML(xml), fixtureCaps());
}

function argv(xml: string): string[] {
  return buildCommandLine(defaults(xml), fixtureCaps(), PATHS).argv;
}

/** The values of every occurrence of `opt`. */
function values(args: string[], opt: string): string[] {
  return args.flatMap((a, i) => (a === opt ? [args[i + 1] ?? ''] : []));
}

function refusal(fn: () => unknown): VirError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VirError);
    return e as VirError;
  }
  throw new Error('expected a refusal');
}

describe('<pm>', () => {
  const pm = (body: string, machine = 'pc') =>
    tinyDomainXml({ machine }).replace('</os>', `</os><pm>${body}</pm>`);

  it('disables S3/S4 on PIIX4 right after -no-shutdown (misc-disable-suspends)', () => {
    const a = argv(pm("<suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/>"));
    const i = a.indexOf('-no-shutdown');
    expect(a.slice(i + 1, i + 5)).toEqual([
      '-global',
      'PIIX4_PM.disable_s3=1',
      '-global',
      'PIIX4_PM.disable_s4=1',
    ]);
  });

  it('uses the ICH9 LPC bridge on q35 and writes 0 for an enabled state (q35)', () => {
    const a = argv(pm("<suspend-to-mem enabled='no'/><suspend-to-disk enabled='yes'/>", 'q35'));
    expect(values(a, '-global').slice(0, 2)).toEqual(['ICH9-LPC.disable_s3=1', 'ICH9-LPC.disable_s4=0']);
  });

  it('writes only the states the definition mentions (misc-disable-s3)', () => {
    const a = argv(pm("<suspend-to-mem enabled='no'/>"));
    expect(values(a, '-global').filter((g) => g.startsWith('PIIX4_PM.'))).toEqual(['PIIX4_PM.disable_s3=1']);
  });

  it('refuses S3/S4 settings on a non-x86 guest, naming the element', () => {
    const def = defaults(pm("<suspend-to-disk enabled='no'/>"));
    if (def.os) def.os.type.arch = 'aarch64';
    const e = refusal(() => buildCommandLine(def, fixtureCaps(), PATHS));
    expect(e.code).toBe('CONFIG_UNSUPPORTED');
    expect(e.field).toBe('/domain/pm/suspend-to-disk');
  });
});

describe('machine type', () => {
  it('stores an alias as the versioned machine it stands for (qemuCanonicalizeMachine)', () => {
    expect(defaults(tinyDomainXml({ machine: 'q35' })).os?.type.machine).toBe('pc-q35-10.0');
  });

  it('gives a definition without a machine the first machine of the caps (virQEMUCapsGetPreferredMachine)', () => {
    const xml = tinyDomainXml().replace(" machine='pc'", '');
    expect(defaults(xml).os?.type.machine).toBe('pc-i440fx-10.0');
  });
});

describe('<sysinfo> on the command line', () => {
  const smbios = (sysinfo: string, extraOs = "<smbios mode='sysinfo'/>") =>
    tinyDomainXml().replace('<os>', `${sysinfo}<os>`).replace('</os>', `${extraOs}</os>`);

  it('writes types 0, 1, 2, 3 and 11 in libvirt order, fields in QEMU order (smbios-type-fwcfg)', () => {
    const a = argv(
      smbios(`<sysinfo type='smbios'>
        <bios><entry name='version'>6FET82WW (3.12 )</entry><entry name='vendor'>LENOVO</entry></bios>
        <system><entry name='family'>Red Hat</entry><entry name='manufacturer'>Fedora</entry></system>
        <baseBoard><entry name='product'>20BE0061MC</entry></baseBoard>
        <chassis><entry name='serial'>C1</entry></chassis>
        <oemStrings><entry>a</entry><entry>b</entry></oemStrings>
      </sysinfo>`),
    );
    expect(values(a, '-smbios')).toEqual([
      'type=0,vendor=LENOVO,version=6FET82WW (3.12 )',
      'type=1,manufacturer=Fedora,family=Red Hat',
      'type=2,manufacturer=,product=20BE0061MC',
      'type=3,manufacturer=,serial=C1',
      'type=11,value=a,value=b',
    ]);
  });

  it('doubles commas of hostile SMBIOS strings so they cannot add fields', () => {
    const a = argv(
      smbios(
        "<sysinfo type='smbios'><bios><entry name='vendor'>ACME,uuid=1</entry></bios>" +
          '<oemStrings><entry>x,type=0,vendor=evil</entry></oemStrings></sysinfo>',
      ),
    );
    expect(values(a, '-smbios')).toEqual([
      'type=0,vendor=ACME,,uuid=1',
      'type=11,value=x,,type=0,,vendor=evil',
    ]);
  });

  it('refuses a newline in an OEM string, naming the entry', () => {
    const def = defaults(
      smbios("<sysinfo type='smbios'><oemStrings><entry>a&#10;-device x</entry></oemStrings></sysinfo>"),
    );
    const e = refusal(() => buildCommandLine(def, fixtureCaps(), PATHS));
    expect(e.field).toBe('/domain/sysinfo[1]/oemStrings/entry[1]');
  });

  it('refuses an SMBIOS entry QEMU has no field for', () => {
    const def = defaults(
      smbios("<sysinfo type='smbios'><bios><entry name='colour'>red</entry></bios></sysinfo>"),
    );
    const e = refusal(() => buildCommandLine(def, fixtureCaps(), PATHS));
    expect(e.code).toBe('CONFIG_UNSUPPORTED');
    expect(e.field).toBe('/domain/sysinfo[1]/bios/entry[1]/@name');
  });

  it('writes no -smbios without <smbios mode="sysinfo">, but still the fw_cfg blobs', () => {
    const a = argv(
      smbios(
        "<sysinfo type='smbios'><bios><entry name='vendor'>V</entry></bios></sysinfo>" +
          "<sysinfo type='fwcfg'><entry name='opt/com.example/a'>x,file=/etc/shadow</entry>" +
          "<entry name='opt/com.example/b' file='/tmp/b.ign'/></sysinfo>",
        '',
      ),
    );
    expect(values(a, '-smbios')).toEqual([]);
    expect(values(a, '-fw_cfg')).toEqual([
      'name=opt/com.example/a,string=x,,file=/etc/shadow',
      'name=opt/com.example/b,file=/tmp/b.ign',
    ]);
  });

  it('refuses fw_cfg names outside opt/ and the reserved ones', () => {
    for (const name of ['etc/foo', 'opt/ovmf/X', 'opt/org.qemu/y']) {
      const def = defaults(smbios(`<sysinfo type='fwcfg'><entry name='${name}'>v</entry></sysinfo>`, ''));
      const e = refusal(() => buildCommandLine(def, fixtureCaps(), PATHS));
      expect(e.code).toBe('CONFIG_UNSUPPORTED');
      expect(e.field).toBe('/domain/sysinfo[1]/entry[1]/@name');
    }
  });

  it('takes the domain UUID from the SMBIOS system UUID, and refuses a mismatch', () => {
    const si =
      "<sysinfo type='smbios'><system><entry name='uuid'>C7A5FDBD-EDAF-9455-926A-D65C16DB1809</entry></system></sysinfo>";
    const noUuid = smbios(si).replace(/<uuid>[^<]*<\/uuid>/, '');
    expect(DomainDef.fromXML(noUuid).uuid).toBe('c7a5fdbd-edaf-9455-926a-d65c16db1809');
    const other = smbios(si).replace(
      /<uuid>[^<]*<\/uuid>/,
      '<uuid>00000000-0000-0000-0000-000000000001</uuid>',
    );
    expect(refusal(() => DomainDef.fromXML(other)).code).toBe('XML_DETAIL');
  });

  it("refuses a BIOS date not in SMBIOS's mm/dd/yyyy shape", () => {
    const xml = smbios("<sysinfo type='smbios'><bios><entry name='date'>2020-01-01</entry></bios></sysinfo>");
    expect(refusal(() => DomainDef.fromXML(xml)).code).toBe('XML_DETAIL');
  });
});

describe('root PCI controller', () => {
  it('switches ACPI hotplug of the i440fx root bus through PIIX4_PM (pc-i440fx-acpi-root-hotplug-enable)', () => {
    const a = argv(
      tinyDomainXml({
        devices: "<controller type='pci' model='pci-root'><target hotplug='off'/></controller>",
      }),
    );
    expect(values(a, '-global')).toContain('PIIX4_PM.acpi-root-pci-hotplug=off');
  });

  it('refuses a hotplug setting on pcie-root', () => {
    const def = defaults(
      tinyDomainXml({
        machine: 'q35',
        devices: "<controller type='pci' model='pcie-root'><target hotplug='on'/></controller>",
      }),
    );
    expect(refusal(() => buildCommandLine(def, fixtureCaps(), PATHS)).code).toBe('CONFIG_UNSUPPORTED');
  });

  it('stores <pcihole64> in KiB and passes it in KiB (pcihole64-gib)', () => {
    const def = defaults(
      tinyDomainXml({
        devices: "<controller type='pci' model='pci-root'><pcihole64 unit='GiB'>1</pcihole64></controller>",
      }),
    );
    expect(def.toXML()).toContain("<pcihole64 unit='KiB'>1048576</pcihole64>");
    expect(values(buildCommandLine(def, fixtureCaps(), PATHS).argv, '-global')).toContain(
      'i440FX-pcihost.pci-hole64-size=1048576K',
    );
  });
});

describe('implicit PC devices', () => {
  it('gives isapc the PS/2 pair and usb=off (usb-controller-implicit-isapc)', () => {
    const caps = fixtureCaps();
    const pc = caps.accel.tcg?.machines[0];
    if (pc) {
      const { alias: _alias, ...rest } = pc;
      caps.accel.tcg?.machines.push({ ...rest, name: 'isapc', isDefault: false });
    }
    const def = applyQemuDefaults(DomainDef.fromXML(tinyDomainXml({ machine: 'isapc' })), caps);
    const machine = buildCommandLine(def, caps, PATHS).argv.find((a) => a.startsWith('isapc,'));
    expect(machine).toMatch(/^isapc,usb=off,/);
    expect(def.devices?.inputs).toEqual([
      { type: 'mouse', bus: 'ps2' },
      { type: 'keyboard', bus: 'ps2' },
    ]);
  });

  it("adds no PS/2 devices when <ps2 state='off'/> removes the i8042 (machine-i8042-off)", () => {
    const xml = tinyDomainXml({ machine: 'q35' }).replace(
      '</os>',
      "</os><features><ps2 state='off'/></features>",
    );
    expect(defaults(xml).devices?.inputs ?? []).toEqual([]);
  });

  it("passes an empty ROM file as QEMU's empty romfile (pci-rom-disabled-invalid)", () => {
    const a = argv(
      tinyDomainXml({
        devices:
          "<interface type='user'><mac address='52:54:00:24:a5:9f'/><model type='virtio'/><rom file=''/></interface>",
      }),
    );
    expect(a.find((x) => x.includes('virtio-net-pci'))).toContain('"romfile":""');
  });
});

describe('PCI addresses', () => {
  const nic = (addr: string) =>
    `<interface type='user'><mac address='52:54:00:00:00:01'/><model type='virtio'/>${addr}</interface>`;

  it('assigns a slot to <address type="pci"/> as to no address (pci-autofill-addr)', () => {
    const a = defaults(tinyDomainXml({ devices: nic("<address type='pci'/>") })).devices?.interfaces?.[0]
      ?.address;
    expect(a).toMatchObject({ type: 'pci', domain: 0, bus: 0, function: 0 });
    expect(a?.type === 'pci' && (a.slot ?? 0) > 0).toBe(true);
  });

  it('fills the missing parts of a partial address with zeros', () => {
    const a = defaults(tinyDomainXml({ devices: nic("<address type='pci' slot='5'/>") })).devices
      ?.interfaces?.[0]?.address;
    expect(a).toEqual({ type: 'pci', domain: 0, bus: 0, slot: 5, function: 0 });
  });

  it('marks function 0 of a shared slot multifunction unless switched off (q35-multifunction)', () => {
    const two = (mf: string) =>
      nic(`<address type='pci' slot='5' function='0'${mf}/>`) +
      nic("<address type='pci' slot='5' function='1'/>").replace(':01', ':02');
    const on = defaults(tinyDomainXml({ devices: two('') })).devices?.interfaces ?? [];
    expect(on.map((n) => (n.address?.type === 'pci' ? n.address.multifunction : 'x'))).toEqual([
      true,
      undefined,
    ]);
    const off = defaults(tinyDomainXml({ devices: two(" multifunction='off'") })).devices?.interfaces ?? [];
    expect(off[0]?.address?.type === 'pci' && off[0].address.multifunction).toBe(false);
  });
});

describe('default video model', () => {
  it('gives <video/> Cirrus with its sizes on PC machines (x86_64-pc-default-models)', () => {
    for (const machine of ['pc', 'q35']) {
      const v = defaults(tinyDomainXml({ machine, devices: '<video/>' })).devices?.videos?.[0];
      expect(v?.model).toMatchObject({ type: 'cirrus', vram: 16384, heads: 1, primary: true });
    }
  });
});

describe('pci-bridges added on i440fx', () => {
  const disks = (n: number) =>
    Array.from(
      { length: n },
      (_, i) =>
        `<disk type='file' device='disk'><source file='/d${i}.img'/><target dev='vd${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}' bus='virtio'/></disk>`,
    ).join('');
  const bridges = (def: DomainDef) =>
    (def.devices?.controllers ?? []).filter((c) => c.type === 'pci' && c.model === 'pci-bridge');

  it('adds none while the root bus has room, and enough when it runs out (pci-bridge-many-disks)', () => {
    // The fixture's pc machine: slots 0 (host bridge) and 1 (PIIX3) are taken, the balloon takes one more.
    expect(bridges(defaults(tinyDomainXml({ devices: disks(28) })))).toHaveLength(0);
    const def = defaults(tinyDomainXml({ devices: disks(40) }));
    expect(bridges(def).map((c) => c.address)).toEqual([
      { type: 'pci', domain: 0, bus: 0, slot: 2, function: 0 },
    ]);
    const last = def.devices?.disks?.at(-1)?.address;
    expect(last?.type === 'pci' && last.bus).toBe(1);
  });

  it('adds the bridges up to a bus an address names (pci-autoadd-addr)', () => {
    const nic =
      "<interface type='user'><mac address='52:54:00:00:00:01'/><address type='pci' bus='3' slot='6'/></interface>";
    expect(bridges(defaults(tinyDomainXml({ devices: nic }))).map((c) => c.index)).toEqual([1, 2, 3]);
  });
});
