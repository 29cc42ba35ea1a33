import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { buildCommandLine, type CommandLinePaths } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { VirError } from '../../../src/errors.js';
import { fixtureCaps, tinyDomainXml, xmlEscape } from './caps-fixture.js';

const PATHS: CommandLinePaths = { domainDir: '/run/vk/dom', monitor: { path: '/run/vk/dom/monitor.sock' } };

function build(xml: string, paths: CommandLinePaths = PATHS) {
  const caps = fixtureCaps();
  return buildCommandLine(applyQemuDefaults(DomainDef.fromXML(xml), caps), caps, paths);
}

/** The value following an option (first occurrence, or the n-th). */
function optionValue(argv: string[], opt: string, nth = 0): string | undefined {
  let seen = 0;
  for (let i = 0; i < argv.length - 1; i++) if (argv[i] === opt && seen++ === nth) return argv[i + 1];
  return undefined;
}

function expectDetail(fn: () => unknown, field: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(VirError);
  expect((err as VirError).code).toBe('XML_DETAIL');
  expect((err as VirError).field).toBe(field);
}

describe('buildCommandLine', () => {
  it('gives an argv array, binary first, and a closed environment', () => {
    const { env, argv } = build(tinyDomainXml());
    expect(argv[0]).toBe('/usr/bin/qemu-system-x86_64');
    expect(argv).toContain('-S');
    expect(argv).toContain('-nodefaults');
    expect(env).toEqual({
      LC_ALL: 'C',
      PATH: '/usr/bin:/bin',
      HOME: '/run/vk/dom',
      USER: 'root',
      LOGNAME: 'root',
      XDG_DATA_HOME: '/run/vk/dom/.local/share',
      XDG_CACHE_HOME: '/run/vk/dom/.cache',
      XDG_CONFIG_HOME: '/run/vk/dom/.config',
    });
  });

  it('writes the libvirt-style core options (checked against libvirt 11.3 net-virtio.args)', () => {
    const { argv } = build(tinyDomainXml());
    expect(optionValue(argv, '-machine')).toBe(
      'pc-i440fx-10.0,usb=off,dump-guest-core=off,memory-backend=pc.ram,acpi=off',
    );
    expect(optionValue(argv, '-accel')).toBe('tcg');
    expect(optionValue(argv, '-cpu')).toBe('qemu64');
    expect(optionValue(argv, '-m')).toBe('size=32768k');
    expect(optionValue(argv, '-object')).toBe(
      '{"qom-type":"memory-backend-ram","id":"pc.ram","size":33554432}',
    );
    expect(optionValue(argv, '-smp')).toBe('1,sockets=1,cores=1,threads=1');
    expect(optionValue(argv, '-chardev')).toBe(
      'socket,id=charmonitor,path=/run/vk/dom/monitor.sock,server=on,wait=off',
    );
    expect(optionValue(argv, '-device')).toBe(
      '{"driver":"piix3-usb-uhci","id":"usb","bus":"pci.0","addr":"0x1.0x2"}',
    );
  });

  it('passes the monitor as a descriptor when asked', () => {
    const { argv } = build(tinyDomainXml(), { ...PATHS, monitor: { fd: 1729 } });
    expect(optionValue(argv, '-chardev')).toBe('socket,id=charmonitor,fd=1729,server=on,wait=off');
  });

  it('doubles commas of a hostile name and keeps quotes and spaces as they are', () => {
    const { argv } = build(tinyDomainXml({ name: `a,b c'd"e=f` }));
    expect(optionValue(argv, '-name')).toBe(`guest=a,,b c'd"e=f,debug-threads=on`);
  });

  it('doubles commas in a monitor socket path and a domain dir', () => {
    const { argv, env } = build(tinyDomainXml(), {
      domainDir: '/tmp/x,y z',
      monitor: { path: '/tmp/x,y z/m,on.sock' },
    });
    expect(optionValue(argv, '-chardev')).toBe(
      'socket,id=charmonitor,path=/tmp/x,,y z/m,,on.sock,server=on,wait=off',
    );
    expect(env.HOME).toBe('/tmp/x,y z');
  });

  it('carries a hostile disk path and serial intact in JSON -blockdev/-device', () => {
    const file = `/images/a,b "c" 'd'.qcow2`;
    const { argv } = build(
      tinyDomainXml({
        devices: `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${xmlEscape(file)}'/>
          <target dev='vda' bus='virtio'/><serial>s,1 "x"</serial></disk>`,
      }),
    );
    const storage = JSON.parse(optionValue(argv, '-blockdev', 0) ?? '{}');
    expect(storage).toEqual({
      driver: 'file',
      filename: file,
      'node-name': 'libvirt-1-storage',
      'auto-read-only': true,
      discard: 'unmap',
    });
    const format = JSON.parse(optionValue(argv, '-blockdev', 1) ?? '{}');
    expect(format).toEqual({
      'node-name': 'libvirt-1-format',
      'read-only': false,
      driver: 'qcow2',
      file: 'libvirt-1-storage',
    });
    const dev = argv
      .map((a) => (a.startsWith('{"driver":"virtio-blk-pci"') ? JSON.parse(a) : undefined))
      .find(Boolean);
    expect(dev).toMatchObject({
      drive: 'libvirt-1-format',
      id: 'virtio-disk0',
      // libvirt writes each space of a serial backslash-escaped
      serial: 's,1\\ "x"',
      bootindex: 1,
    });
  });

  it('refuses a newline in the name, naming the field', () => {
    expectDetail(() => build(tinyDomainXml({ name: 'a\nb' })), '/domain/name');
  });

  it('refuses a newline in a disk path, naming the disk', () => {
    expectDetail(
      () =>
        build(
          tinyDomainXml({
            devices: `<disk type='file' device='disk'><source file='/a&#10;b.img'/><target dev='vda' bus='virtio'/></disk>`,
          }),
        ),
      '/domain/devices/disk[1]/source/@file',
    );
  });

  it('refuses a control character in a chardev path, naming the serial port', () => {
    expectDetail(
      () =>
        build(
          tinyDomainXml({
            devices: `<serial type='file'><source path='/tmp/a&#13;b'/><target port='0'/></serial>`,
          }),
        ),
      '/domain/devices/serial[1]/source/@path',
    );
  });

  it('refuses a NUMA cpus list that would smuggle in another option', () => {
    const xml = tinyDomainXml().replace(
      '<vcpu>1</vcpu>',
      "<vcpu>2</vcpu><cpu><numa><cell id='0' cpus='0,memdev=evil' memory='32768' unit='KiB'/></numa></cpu>",
    );
    expectDetail(() => build(xml), '/domain/cpu/numa/cell[1]/@cpus');
  });

  it('binds guest RAM to host nodes from <numatune>', () => {
    const xml = tinyDomainXml().replace(
      '<vcpu>1</vcpu>',
      "<vcpu>1</vcpu><numatune><memory mode='strict' nodeset='0-1,3'/></numatune>",
    );
    const obj = JSON.parse(optionValue(build(xml).argv, '-object') ?? '{}');
    expect(obj).toMatchObject({ id: 'pc.ram', 'host-nodes': [0, 1, 3], policy: 'bind' });
  });

  it('passes a PCI host device to vfio-pci by its host address, from <hostdev> and from <interface type=hostdev>', () => {
    // QEMU's vfio-pci `host` property takes the address as DDDD:BB:SS.F
    const source = "<source><address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/></source>";
    const { argv } = build(
      tinyDomainXml({
        devices: `<hostdev mode='subsystem' type='pci' managed='yes'>${source}</hostdev><interface type='hostdev' managed='yes'>${source.replace("'0x5'", "'0x6'")}</interface>`,
      }),
    );
    const vfio = argv.filter((a) => a.includes('"vfio-pci"')).map((a) => JSON.parse(a) as { host: string });
    expect(vfio.map((d) => d.host).sort()).toEqual(['0000:06:12.5', '0000:06:12.6']);
  });

  it('numbers USB ports hubs first, then the other USB devices', () => {
    // libvirt 11.3's usb-controller-ich9-autoassign.args: hub0 port 1, hub1 port 2, mice 3, 4, 5
    const { argv } = build(
      tinyDomainXml({
        devices: "<input type='mouse' bus='usb'/><hub type='usb'/><input type='tablet' bus='usb'/>",
      }).replace("machine='pc'", "machine='q35'"),
    );
    const devs = argv.filter((a) => a.startsWith('{"driver":"usb-')).map((a) => JSON.parse(a));
    expect(devs).toEqual([
      { driver: 'usb-hub', id: 'hub0', bus: 'usb.0', port: '1' },
      { driver: 'usb-mouse', id: 'input0', bus: 'usb.0', port: '2' },
      { driver: 'usb-tablet', id: 'input1', bus: 'usb.0', port: '3' },
    ]);
  });

  it('writes a virtio-mem device as a non-reserving RAM backend plus virtio-mem-pci', () => {
    // shape of libvirt 11.3's memory-hotplug-virtio-mem.args (first device)
    const xml = tinyDomainXml({
      devices: `<memory model='virtio-mem'><target><size unit='KiB'>1048576</size><node>0</node>
        <block unit='KiB'>2048</block><requested unit='KiB'>524288</requested></target></memory>`,
    })
      // <memory> counts the device too, as in libvirt's file: the NUMA cell is the boot memory
      .replace("<memory unit='MiB'>32</memory>", "<memory unit='KiB'>1081344</memory>")
      .replace(
        '<vcpu>1</vcpu>',
        "<maxMemory unit='KiB'>1099511627776</maxMemory><vcpu>1</vcpu><cpu><numa><cell id='0' cpus='0' memory='32768' unit='KiB'/></numa></cpu>",
      );
    const { argv } = build(xml);
    expect(optionValue(argv, '-m')).toBe('size=32768k,maxmem=1099511627776k');
    const objects = argv.filter((_, i) => argv[i - 1] === '-object').map((a) => JSON.parse(a));
    expect(objects).toContainEqual({
      'qom-type': 'memory-backend-ram',
      id: 'memvirtiomem0',
      reserve: false,
      size: 1073741824,
    });
    const dev = argv
      .map((a) => (a.startsWith('{"driver":"virtio-mem-pci"') ? JSON.parse(a) : undefined))
      .find(Boolean);
    expect(dev).toMatchObject({
      driver: 'virtio-mem-pci',
      node: 0,
      'block-size': 2097152,
      'requested-size': 536870912,
      memdev: 'memvirtiomem0',
      id: 'virtiomem0',
      bus: 'pci.0',
    });
  });

  it("boots with the NUMA cells' memory when <memory> also counts hot-pluggable devices", () => {
    // libvirt 11.3's memory-hotplug-virtio-mem: <memory> 8388608 KiB, one cell of 2095104 KiB,
    // and its .args say -m size=2095104k
    const xml = tinyDomainXml({
      devices: `<memory model='virtio-mem'><target><size unit='KiB'>1048576</size><node>0</node>
        <block unit='KiB'>2048</block><requested unit='KiB'>524288</requested></target></memory>`,
    })
      .replace("<memory unit='MiB'>32</memory>", "<memory unit='KiB'>8388608</memory>")
      .replace(
        '<vcpu>1</vcpu>',
        "<maxMemory unit='KiB'>1099511627776</maxMemory><vcpu>1</vcpu><cpu><numa><cell id='0' cpus='0' memory='2095104' unit='KiB'/></numa></cpu>",
      );
    expect(optionValue(build(xml).argv, '-m')).toBe('size=2095104k,maxmem=1099511627776k');
  });

  it('refuses a newline in the domain dir', () => {
    expectDetail(() => build(tinyDomainXml(), { ...PATHS, domainDir: '/tmp/a\nb' }), 'paths.domainDir');
  });

  it('uses key=value lists instead of JSON for a QEMU older than 6.2', () => {
    const caps = fixtureCaps({ version: { major: 6, minor: 0, micro: 0 }, versionNumber: 6_000_000 });
    const def = applyQemuDefaults(DomainDef.fromXML(tinyDomainXml({ name: 'x' })), caps);
    const { argv } = buildCommandLine(def, caps, PATHS);
    expect(optionValue(argv, '-object')).toBe('memory-backend-ram,id=pc.ram,size=33554432');
    expect(optionValue(argv, '-device')).toBe('piix3-usb-uhci,id=usb,bus=pci.0,addr=0x1.0x2');
  });

  it.each([
    // no swtpm socket was given
    [
      "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>",
      '/domain/devices/tpm[1]/backend/@type',
    ],
    ["<graphics type='rdp' autoport='yes'/>", '/domain/devices/graphics[1]/@type'],
    ["<watchdog model='diag288'/>", '/domain/devices/watchdog[1]/@model'],
  ])('refuses a device it cannot start rather than dropping it: %s', (devices, field) => {
    let err: unknown;
    try {
      build(tinyDomainXml({ devices }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VirError);
    expect((err as VirError).code).toBe('CONFIG_UNSUPPORTED');
    expect((err as VirError).field).toBe(field);
  });

  it('refuses an interface type that needs host networking it cannot set up', () => {
    expect(() =>
      build(tinyDomainXml({ devices: "<interface type='network'><source network='default'/></interface>" })),
    ).toThrow(VirError);
  });
});
