/**
 * QEMU command-line benchmarks: define-time defaults plus argv for a
 * typical small guest (disk, NIC, serial, VNC). The peer is libvirt's own
 * `domainXMLToNative('qemu-argv')` through python3-libvirt on
 * qemu:///system, when a libvirtd is running.
 */
import { DomainDef } from '../src/conf/domain/domain-def.js';
import { buildCommandLine } from '../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../src/drivers/qemu/defaults/index.js';
import type { QemuCaps, QemuMachineType } from '../src/drivers/qemu/probe/qemu-caps.js';
import { type BenchRow, measure, pythonMedianUs, row } from './harness.js';

const XML = `<domain type='qemu'>
  <name>bench-guest</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='MiB'>256</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/bench.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>
    <serial type='pty'/>
    <graphics type='vnc' port='-1' autoport='yes'/>
  </devices>
</domain>`;

function benchCaps(): QemuCaps {
  const machine = (name: string, alias: string, isDefault: boolean): QemuMachineType => ({
    name,
    alias,
    isDefault,
    maxCpus: 255,
    hotplugCpus: true,
    numaMemSupported: false,
    deprecated: false,
    defaultCpuType: 'qemu64-x86_64-cpu',
    defaultRamId: 'pc.ram',
  });
  return {
    format: 1,
    emulator: '/usr/bin/qemu-system-x86_64',
    arch: 'x86_64',
    version: { major: 10, minor: 0, micro: 0 },
    versionNumber: 10_000_000,
    package: '',
    kvm: { present: false, enabled: false },
    commands: [],
    events: [],
    displayTypes: [],
    netdevTypes: [],
    qomTypes: [],
    typeProps: {},
    tpm: { models: [], types: [] },
    commandLineOptions: {},
    migrationCapabilities: [],
    sev: null,
    sgx: null,
    accel: {
      tcg: {
        machines: [machine('pc-i440fx-10.0', 'pc', true), machine('pc-q35-10.0', 'q35', false)],
        cpuModels: [],
      },
    },
  };
}

export async function run(): Promise<BenchRow[]> {
  const caps = benchCaps();
  const paths = {
    domainDir: '/var/lib/virtkit/qemu/bench-guest',
    monitor: { path: '/run/virtkit/bench.monitor' },
  };
  const rows: BenchRow[] = [];
  rows.push(
    row(
      'parse + QEMU defaults (small guest)',
      await measure(() => applyQemuDefaults(DomainDef.fromXML(XML), caps)),
    ),
  );
  const def = applyQemuDefaults(DomainDef.fromXML(XML), caps);
  rows.push(
    row('buildCommandLine (defaults applied)', await measure(() => buildCommandLine(def, caps, paths))),
  );
  const libvirt = pythonMedianUs(
    `c = libvirt.open('qemu:///system')\nxml = ${JSON.stringify(XML)}`,
    "c.domainXMLToNative('qemu-argv', xml, 0)",
    300,
  );
  rows.push(
    row(
      'XML -> QEMU argv (parse, defaults, command line)',
      await measure(() => buildCommandLine(applyQemuDefaults(DomainDef.fromXML(XML), caps), caps, paths)),
      { name: "python3-libvirt domainXMLToNative('qemu-argv') on qemu:///system", us: libvirt },
    ),
  );
  return rows;
}
