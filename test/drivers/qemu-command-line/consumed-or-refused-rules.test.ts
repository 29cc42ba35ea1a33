/**
 * The rules that close the "parsed but neither read nor refused" gaps of
 * consumed-or-refused.test.ts: each field reaches QEMU, is checked as
 * libvirt 11.3 checks it (qemu_validate.c, qemu_process.c, domain_conf.c,
 * domain_postparse.c), or refuses the start naming it. Expected options
 * are libvirt's (pci-expander-bus, iothreads-ids-partial, tap-vhost-incorrect,
 * virtio-options qemuxmlconf args); refusals are checked by code and field.
 */
import { describe, expect, it } from 'vitest';
import { unknownContent } from '../../../src/conf/binding.js';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import type { CommandLinePaths, NetHost } from '../../../src/drivers/qemu/command-line/types.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { cloneDef } from '../../../src/drivers/qemu/domains/domain-entry.js';
import {
  hostSideSettings,
  refuseHostSideSettings,
} from '../../../src/drivers/qemu/domains/host-side-settings.js';
import type { QemuCaps } from '../../../src/drivers/qemu/probe/qemu-caps.js';
import { VirError } from '../../../src/errors.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

const paths: CommandLinePaths = { domainDir: '/var/lib/x', monitor: { path: '/var/lib/x/monitor.sock' } };

function define(xml: string, caps: QemuCaps = fixtureCaps()): DomainDef {
  return applyQemuDefaults(DomainDef.fromXML(xml, { deferImplicitControllers: true }), caps);
}

function withDevices(devices: string, machine = 'pc'): DomainDef {
  return define(tinyDomainXml({ devices, machine }));
}

/** The tiny domain with `extra` put before its `<os>` (vcpus, cpu, iothreads, clock, ...). */
function withTop(extra: string, devices = ''): string {
  return tinyDomainXml({ devices }).replace('<os>', `${extra}<os>`);
}

function argv(def: DomainDef, p: CommandLinePaths = paths, caps: QemuCaps = fixtureCaps()): string[] {
  return buildCommandLine(def, caps, p).argv;
}

function refusal(f: () => unknown): VirError {
  try {
    f();
  } catch (e) {
    if (e instanceof VirError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

function expectRefused(f: () => unknown, field: string, code = 'CONFIG_UNSUPPORTED'): void {
  const e = refusal(f);
  expect(e.code, e.message).toBe(code);
  expect(e.field).toBe(field);
}

/** The first start refusal of `def`, or undefined. */
function startRefusal(def: DomainDef): string | undefined {
  return hostSideSettings(def)[0]?.field;
}

const netHost = (seen: unknown[]): NetHost => ({
  tapFds: (req) => {
    seen.push(req);
    return [102];
  },
  vhostFds: (req) => {
    seen.push(req);
    return [44];
  },
  vdpaFd: () => 1732,
  resolveNetwork: (name, port) => {
    seen.push({ name, ...port });
    return name === 'vfs'
      ? { type: 'hostdev', pci: { domain: 0, bus: 3, slot: 7, function: 1 } }
      : { type: 'bridge', bridge: 'virbr0' };
  },
});

describe('libvirt checks the command line now makes', () => {
  it('a smartcard: one only, in slot 0 of CCID controller 0', () => {
    const card = (slot: number) =>
      `<controller type='ccid' index='0'/><smartcard mode='host'><address type='ccid' controller='0' slot='${slot}'/></smartcard>`;
    expect(argv(withDevices(card(0))).some((a) => a.includes('"ccid-card-emulated"'))).toBe(true);
    expectRefused(() => argv(withDevices(card(1))), '/domain/devices/smartcard[1]/address');
    expectRefused(
      () => argv(withDevices(`${card(0)}<smartcard mode='host'/>`)),
      '/domain/devices/smartcard[1]',
    );
  });

  it('a parallel port is its place among the parallel ports (QEMU numbers isa-parallel in order)', () => {
    const par = (port: number) => `<parallel type='null'><target port='${port}'/></parallel>`;
    expect(argv(withDevices(par(0) + par(1))).filter((a) => a.includes('"isa-parallel"'))).toHaveLength(2);
    expectRefused(() => argv(withDevices(par(1))), '/domain/devices/parallel[1]/target/@port');
  });

  it("a disk's driver is qemu, and an empty drive's format one QEMU opens", () => {
    const cd = (driver: string) =>
      `<disk type='file' device='cdrom'>${driver}<target dev='hdc' bus='ide'/><readonly/></disk>`;
    expect(
      argv(withDevices(cd("<driver name='qemu' type='raw'/>"))).some((a) => a.includes('"ide-cd"')),
    ).toBe(true);
    expectRefused(
      () => argv(withDevices(cd("<driver name='tap' type='raw'/>"))),
      '/domain/devices/disk[1]/driver/@name',
    );
    expectRefused(
      () => argv(withDevices(cd("<driver name='qemu' type='nope'/>"))),
      '/domain/devices/disk[1]/driver/@type',
    );
  });

  it('IDE, SATA and floppy drive addresses have target 0; SATA and floppy bus 0', () => {
    const ide = (target: number) =>
      `<disk type='file' device='disk'><source file='/a.img'/><target dev='hda' bus='ide'/><address type='drive' controller='0' bus='0' target='${target}' unit='0'/></disk>`;
    expect(argv(withDevices(ide(0))).some((a) => a.includes('"ide-hd"'))).toBe(true);
    expectRefused(() => argv(withDevices(ide(1))), '/domain/devices/disk[1]/address/@target');
    const sata = `<disk type='file' device='disk'><source file='/a.img'/><target dev='sda' bus='sata'/><address type='drive' controller='0' bus='1' target='0' unit='0'/></disk>`;
    expectRefused(() => argv(withDevices(sata, 'q35')), '/domain/devices/disk[1]/address/@bus');
  });

  it('the machine has one floppy controller', () => {
    expectRefused(
      () => argv(withDevices("<controller type='fdc' index='1'/>")),
      "/domain/devices/controller[@type='fdc'][@index=1]",
    );
  });

  it('a PCI expander bus gets its bus number and NUMA node; a <target> option of another model is refused', () => {
    const xml = withTop(
      "<cpu><numa><cell id='0' cpus='0' memory='32768' unit='KiB'/><cell id='1' memory='0' unit='KiB'/></numa></cpu>",
      "<controller type='pci' index='0' model='pci-root'/><controller type='pci' index='1' model='pci-expander-bus'><model name='pxb'/><target busNr='254'><node>1</node></target><address type='pci' domain='0' bus='0' slot='2' function='0'/></controller>",
    );
    const pxb = argv(define(xml)).find((a) => a.includes('"pxb"'));
    expect(pxb).toBe('{"driver":"pxb","bus_nr":254,"id":"pci.1","numa_node":1,"bus":"pci.0","addr":"0x2"}');
    expectRefused(
      () =>
        argv(
          withDevices(
            "<controller type='pci' index='1' model='pci-bridge'><target chassisNr='1' busNr='3'/></controller>",
          ),
        ),
      '/domain/devices/controller[@index=1]/target/@busNr',
    );
  });

  it('vCPUs: each once, an order given to one vCPU only, a disabled vCPU hot-pluggable', () => {
    const vcpus = (list: string) =>
      withTop(`<vcpus>${list}</vcpus>`).replace('<vcpu>1</vcpu>', "<vcpu current='1'>2</vcpu>");
    const ok = define(
      vcpus(
        "<vcpu id='0' enabled='yes' hotpluggable='no' order='1'/><vcpu id='1' enabled='no' hotpluggable='yes'/>",
      ),
    );
    expect(argv(ok)).toContain('1,maxcpus=2,sockets=2,cores=1,threads=1');
    const dup = define(
      vcpus(
        "<vcpu id='0' enabled='yes' hotpluggable='no' order='1'/><vcpu id='1' enabled='yes' hotpluggable='yes' order='1'/>",
      ).replace("current='1'", "current='2'"),
    );
    expectRefused(() => argv(dup), '/domain/vcpus/vcpu[2]/@order');
    const stuck = define(
      vcpus("<vcpu id='0' enabled='yes' hotpluggable='no'/><vcpu id='1' enabled='no' hotpluggable='no'/>"),
    );
    expectRefused(() => argv(stuck), '/domain/vcpus/vcpu[2]/@hotpluggable');
  });

  it('<iothreads> counts every thread: the ones <iothreadids> leaves out take the lowest free ids', () => {
    const def = DomainDef.fromXML(
      withTop("<iothreads>3</iothreads><iothreadids><iothread id='5'/></iothreadids>"),
      {
        deferImplicitControllers: true,
      },
    );
    applyQemuDefaults(def, fixtureCaps());
    // a definition that skipped define's defaults still gets them all
    def.iothreadIds = { iothreads: [{ id: 5 }] };
    const ids = argv(def)
      .filter((a) => a.includes('"iothread"'))
      .map((a) => (JSON.parse(a) as { id: string }).id);
    expect(ids).toEqual(['iothread5', 'iothread1', 'iothread2']);
  });

  it("a named CPU: match='minimum' and a model QEMU does not list are refused, naming fallback", () => {
    const cpu = (attrs: string, model: string, fallback: string) =>
      define(withTop(`<cpu mode='custom' ${attrs}><model fallback='${fallback}'>${model}</model></cpu>`));
    const caps = fixtureCaps({
      accel: {
        tcg: {
          ...fixtureCaps().accel.tcg!,
          cpuModels: [{ name: 'qemu64', blockers: [], deprecated: false }],
        },
      },
    });
    expect(argv(cpu("match='exact'", 'qemu64', 'forbid'), paths, caps)).toContain('qemu64');
    expectRefused(() => argv(cpu("match='minimum'", 'qemu64', 'forbid'), paths, caps), '/domain/cpu/@match');
    expectRefused(
      () => argv(cpu("match='exact'", 'Nehalem', 'allow'), paths, caps),
      '/domain/cpu/model/@fallback',
    );
    expectRefused(() => argv(cpu("match='exact'", 'Nehalem', 'forbid'), paths, caps), '/domain/cpu/model');
  });

  it('a host VF interface: its source address is a PCI one, checked part by part', () => {
    const vf = (addr: string) =>
      `<interface type='hostdev'><source><address ${addr}/></source><model type='virtio'/></interface>`;
    expect(
      argv(withDevices(vf("type='pci' domain='0x0000' bus='0x03' slot='0x07' function='0x1'"))).find((a) =>
        a.includes('"vfio-pci"'),
      ),
    ).toContain('"host":"0000:03:07.1"');
    expectRefused(
      () => argv(withDevices(vf("type='usb' bus='1' device='2'"))),
      '/domain/devices/interface[1]/source/address/@type',
    );
    expectRefused(
      () => argv(withDevices(vf("type='pci' domain='0' bus='0x03' slot='0x20' function='0'"))),
      '/domain/devices/interface[1]/source/address/@slot',
      'XML_DETAIL',
    );
  });

  it('an unassigned host device reaches no guest bus, and still has a host address', () => {
    const dev = `<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0005' bus='0x90' slot='0x01' function='0x1'/></source><address type='unassigned'/></hostdev>`;
    expect(argv(withDevices(dev)).some((a) => a.includes('vfio-pci'))).toBe(false);
  });

  it('discard on a NUMA cell without backend objects: plain RAM has nothing to discard, a memory file is refused', () => {
    const numa = "<cpu><numa><cell id='0' cpus='0' memory='32768' unit='KiB' discard='yes'/></numa></cpu>";
    const caps = fixtureCaps();
    caps.accel.tcg!.machines = caps.accel.tcg!.machines.map((m) => ({ ...m, numaMemSupported: true }));
    expect(argv(define(withTop(numa), caps), paths, caps)).toContain('node,nodeid=0,cpus=0,mem=32');
    // a memory file gets a backend object, which takes discard-data (libvirt's rule)
    const file = define(withTop(`<memoryBacking><source type='file'/></memoryBacking>${numa}`), caps);
    const backend = argv(file, { ...paths, memoryBackingDir: '/var/lib/x/ram' }, caps).find((a) =>
      a.includes('"memory-backend-file"'),
    );
    expect(backend).toContain('"discard-data":true');
    // hugepages for all of memory are one -mem-path, which has no discard option
    const huge = define(withTop(`<memoryBacking><hugepages/></memoryBacking>${numa}`), caps);
    expectRefused(
      () => argv(huge, { ...paths, hugepageDirs: { '2048': '/dev/hugepages' } }, caps),
      '/domain/cpu/numa/cell[1]/@discard',
    );
  });

  it('<graphics connected> goes with the password to set_password; VNC only keeps its clients', () => {
    const cmds = (g: string) => buildCommandLine(withDevices(g), fixtureCaps(), paths).monitorCommands ?? [];
    expect(
      cmds("<graphics type='spice' port='5901' passwd='x' connected='disconnect'/>").find(
        (c) => c.execute === 'set_password',
      )?.arguments,
    ).toEqual({ protocol: 'spice', password: 'x', connected: 'disconnect' });
    expectRefused(
      () => cmds("<graphics type='vnc' port='5901' passwd='x' connected='fail'/>"),
      '/domain/devices/graphics[1]/@connected',
    );
  });

  it('a video other than QXL or virtio has one head', () => {
    expectRefused(
      () => argv(withDevices("<video><model type='vga' heads='2' primary='yes'/></video>")),
      '/domain/devices/video[1]/model/@heads',
    );
  });

  it("a vhost-user GPU's backend gets the 3D acceleration and render node (libvirt's --virgl, --render-node)", () => {
    const seen: unknown[] = [];
    const def = withDevices(
      "<video><driver name='vhostuser'/><model type='virtio' heads='1' primary='yes'><acceleration accel3d='yes' rendernode='/dev/dri/test'/></model></video>",
    );
    argv(def, {
      ...paths,
      vhostUserGpuFd: (alias, render) => {
        seen.push({ alias, ...render });
        return 1729;
      },
    });
    expect(seen).toEqual([{ alias: 'video0', accel3d: true, renderNode: '/dev/dri/test' }]);
  });

  it('the NIC host gets <backend tap/vhost> device paths and the MAC a network port is made for', () => {
    const seen: unknown[] = [];
    const def = withDevices(
      "<interface type='ethernet'><mac address='52:54:00:e5:48:59'/><model type='virtio'/><backend tap='/dev/null' vhost='/dev/zero'/></interface>" +
        "<interface type='network'><mac address='00:11:22:33:44:55'/><source network='vfs'/><model type='virtio'/></interface>",
    );
    argv(def, { ...paths, netHost: netHost(seen) });
    expect(seen).toContainEqual(expect.objectContaining({ kind: 'ethernet', device: '/dev/null' }));
    expect(seen).toContainEqual(expect.objectContaining({ alias: 'net0', device: '/dev/zero' }));
    expect(seen).toContainEqual({ name: 'vfs', mac: '00:11:22:33:44:55' });
  });
});

describe('what the start refuses (hostSideSettings), naming the field', () => {
  const nic = (inner: string, attrs = "type='bridge'") =>
    `<interface ${attrs}><source bridge='br0'/>${inner}<model type='virtio'/></interface>`;
  const cases: Array<[string, string, string]> = [
    [
      'interface script',
      nic("<script path='/etc/qemu-ifup'/>", "type='ethernet'"),
      '/domain/devices/interface[1]/script/@path',
    ],
    [
      'interface down script',
      nic("<downscript path='/etc/qemu-ifdown'/>", "type='ethernet'"),
      '/domain/devices/interface[1]/downscript/@path',
    ],
    [
      'bandwidth on an interface without a tap',
      "<interface type='user'><bandwidth><inbound average='1000'/></bandwidth><model type='virtio'/></interface>",
      '/domain/devices/interface[1]/bandwidth',
    ],
    [
      "a bandwidth floor (the network's QoS)",
      "<interface type='network'><source network='default'/><bandwidth><inbound average='1000' floor='200'/></bandwidth></interface>",
      '/domain/devices/interface[1]/bandwidth/inbound/@floor',
    ],
    ['VLAN', nic("<vlan><tag id='42'/></vlan>"), '/domain/devices/interface[1]/vlan[1]'],
    ['virtual port', nic("<virtualport type='openvswitch'/>"), '/domain/devices/interface[1]/virtualport[1]'],
    ['port isolation', nic("<port isolated='yes'/>"), '/domain/devices/interface[1]/port[1]'],
    [
      'coalescing',
      nic("<coalesce><rx><frames max='7'/></rx></coalesce>"),
      '/domain/devices/interface[1]/coalesce',
    ],
    [
      'port group',
      "<interface type='network'><source network='default' portgroup='bob'/><model type='virtio'/></interface>",
      '/domain/devices/interface[1]/source/@portgroup',
    ],
    [
      'trusted RX filters',
      nic('', "type='bridge' trustGuestRxFilters='yes'"),
      '/domain/devices/interface[1]/@trustGuestRxFilters',
    ],
    [
      'an existing tap',
      nic("<target dev='mytap' managed='no'/>", "type='ethernet'"),
      '/domain/devices/interface[1]/target/@managed',
    ],
    [
      'the MAC of a host VF',
      "<interface type='hostdev'><mac address='00:11:22:33:44:55'/><source><address type='pci' domain='0' bus='3' slot='7' function='1'/></source></interface>",
      '/domain/devices/interface[1]/mac/@address',
    ],
    [
      'a managed host VF',
      "<interface type='hostdev' managed='yes'><source><address type='pci' domain='0' bus='3' slot='7' function='1'/></source></interface>",
      '/domain/devices/interface[1]/@managed',
    ],
    [
      'unknown disk XML',
      "<disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/><frob x='1'/></disk>",
      '/domain/devices/disk[1]/frob[1]',
    ],
    [
      'a label on a disk image',
      "<disk type='file' device='disk'><source file='/a.img'><seclabel model='dac' relabel='yes'><label>1:1</label></seclabel></source><target dev='vda' bus='virtio'/></disk>",
      '/domain/devices/disk[1]/source/seclabel[1]',
    ],
    [
      'a label on a backing image',
      "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/a.qcow2'/><backingStore type='file'><format type='raw'/><source file='/b.img'><seclabel model='selinux' relabel='yes'/></source></backingStore><target dev='vda' bus='virtio'/></disk>",
      '/domain/devices/disk[1]/backingStore/source/seclabel[1]',
    ],
    [
      'unknown controller XML',
      "<controller type='usb' index='0' model='piix3-uhci'><frob/></controller>",
      '/domain/devices/controller[1]/frob[1]',
    ],
    ['unknown video XML', "<video><model type='vga'/><frob/></video>", '/domain/devices/video[1]/frob[1]'],
    [
      'Cirrus video memory',
      "<video><model type='cirrus' vram='8192'/></video>",
      '/domain/devices/video[1]/model/@vram',
    ],
    [
      'a virtio option of a vhost-user VGA',
      "<video><driver name='vhostuser' iommu='on'/><model type='virtio' primary='yes'/></video>",
      '/domain/devices/video[1]/driver/@iommu',
    ],
  ];
  for (const [what, devices, field] of cases)
    it(`${what}: ${field}`, () => {
      const def = withDevices(devices);
      expect(startRefusal(def)).toBe(field);
      expectRefused(() => refuseHostSideSettings(def), field);
      // the start works on a copy made through the XML: the refusal survives it
      expect(startRefusal(cloneDef(def))).toBe(field);
    });

  it("a disk source's XML the builder reads (auth, encryption, ...) starts; anything else there is refused", () => {
    const disk = (extra: string) =>
      withDevices(
        `<disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='iscsi' name='iqn.2013-07.com.example:iscsi/1'><host name='example.org' port='3260'/><auth username='u'><secret type='iscsi' usage='s'/></auth>${extra}</source><target dev='vda' bus='virtio'/></disk>`,
      );
    expect(hostSideSettings(disk(''))).toEqual([]);
    expect(startRefusal(disk('<frob/>'))).toBe('/domain/devices/disk[1]/source/frob[1]');
  });

  it("a user alias on a device whose QEMU id is not taken from it is refused; libvirt's own alias is not", () => {
    const disk = (alias: string) =>
      withDevices(
        `<disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/><alias name='${alias}'/></disk>`,
      );
    expect(startRefusal(disk('ua-mine'))).toBe('/domain/devices/disk[1]/alias/@name');
    expect(hostSideSettings(disk('virtio-disk0'))).toEqual([]);
  });

  it('timers: catch-up rates and an HPET tick policy have no QEMU option', () => {
    const clock = (t: string) => define(withTop(`<clock offset='utc'>${t}</clock>`));
    expect(startRefusal(clock("<timer name='rtc' tickpolicy='catchup'><catchup slew='4636'/></timer>"))).toBe(
      '/domain/clock/timer[1]/catchup',
    );
    expect(startRefusal(clock("<timer name='hpet' tickpolicy='catchup'/>"))).toBe(
      '/domain/clock/timer[1]/@tickpolicy',
    );
    // the rtc's catch-up policy is QEMU's driftfix=slew: nothing refused
    expect(startRefusal(clock("<timer name='rtc' tickpolicy='catchup'/>"))).toBeUndefined();
  });

  it('block I/O tuning per device is refused like the rest of <blkiotune>', () => {
    const def = define(
      withTop('<blkiotune><device><path>/dev/sda</path><weight>400</weight></device></blkiotune>'),
    );
    expect(startRefusal(def)).toBe('/domain/blkiotune');
  });

  it('what virtkit does anyway is not refused: a per-device label that says not to relabel, untrusted RX filters, a Cirrus card at its default memory', () => {
    const def = withDevices(
      "<disk type='file' device='disk'><source file='/a.img'><seclabel model='selinux' relabel='no'/></source><target dev='vda' bus='virtio'/></disk>" +
        nic('', "type='bridge' trustGuestRxFilters='no'") +
        "<video><model type='cirrus' vram='16384' heads='1' primary='yes'/></video>",
    );
    expect(hostSideSettings(def)).toEqual([]);
  });
});

describe('define drops what only a running guest has, as libvirt parses a definition', () => {
  it("a disk's block job and chain indexes, a network port id, a channel's connection state", () => {
    const def = withDevices(
      "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/a.qcow2' index='3'/>" +
        "<backingStore type='file' index='2'><format type='raw'/><source file='/b.img'/></backingStore>" +
        "<mirror type='file' file='/c.img' format='qcow2' job='copy'><format type='qcow2'/><source file='/c.img'/></mirror>" +
        "<target dev='vda' bus='virtio'/></disk>" +
        "<interface type='network'><source network='default' portid='873be5a0-6b8a-4a0b-a1df-ef3659cd64bc'/><model type='virtio'/></interface>" +
        "<channel type='unix'><source mode='bind' path='/tmp/ch'/><target type='virtio' name='org.qemu.guest_agent.0' state='connected'/></channel>",
    );
    const disk = def.devices?.disks?.[0];
    expect(disk?.source?.index).toBeUndefined();
    expect(disk?.backingStore?.attrs.some((a) => a.name === 'index')).toBe(false);
    expect(
      unknownContent(disk ?? {})?.nodes.some((n) => n.node.type === 'element' && n.node.name === 'mirror'),
    ).not.toBe(true);
    expect(def.devices?.interfaces?.[0]?.source?.portid).toBeUndefined();
    expect(def.devices?.channels?.[0]?.target?.state).toBeUndefined();
  });

  it('an expander bus without a bus number gets two below the lowest in use (254 when none is)', () => {
    const pxb = (index: number, target = '') =>
      `<controller type='pci' index='${index}' model='pci-expander-bus'>${target}</controller>`;
    const busNrs = (def: DomainDef) =>
      (def.devices?.controllers ?? [])
        .filter((c) => c.model === 'pci-expander-bus')
        .map((c) => c.target?.attrs.find((a) => a.name === 'busNr')?.value);
    const root = "<controller type='pci' index='0' model='pci-root'/>";
    expect(busNrs(withDevices(root + pxb(1)))).toEqual(['254']);
    expect(busNrs(withDevices(root + pxb(1, "<target busNr='254'/>") + pxb(2)))).toEqual(['254', '252']);
    expectRefused(
      () => withDevices(root + pxb(1, "<target busNr='2'/>") + pxb(2)),
      '/domain/devices/controller[@index=2]/target/@busNr',
    );
  });

  it("a disk's <driver> keeps the XML the model does not know through the defaults", () => {
    const def = withDevices(
      "<disk type='file' device='disk'><driver cache='none' frob='1'/><source file='/a.img'/><target dev='vda' bus='virtio'/></disk>",
    );
    const driver = def.devices?.disks?.[0]?.driver;
    expect(driver).toMatchObject({ name: 'qemu', type: 'raw', cache: 'none' });
    expect(unknownContent(driver ?? {})?.attrs).toEqual([
      expect.objectContaining({ name: 'frob', value: '1' }),
    ]);
  });
});
