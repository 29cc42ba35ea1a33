/**
 * The host `test:///default` pretends to be. The facts match libvirt's test
 * driver (checked against `virsh -c test:///default capabilities` and
 * `nodeinfo` from Debian's libvirt-clients), so code tested here sees the
 * same numbers it would see through libvirt.
 *
 * @module
 */
import { Capabilities, type CapsNumaCell } from '../../conf/capabilities.js';
import type { NodeInfo } from '../../driver.js';

export const DEFAULT_NODE_INFO: NodeInfo = {
  model: 'i686',
  memory: 3145728,
  cpus: 16,
  mhz: 1400,
  nodes: 2,
  sockets: 2,
  cores: 2,
  threads: 2,
};

/** Two NUMA cells of eight CPUs; cell 0 has 2 GiB, cell 1 4 GiB. */
function cell(id: number, memoryKiB: bigint, pageSize: number): CapsNumaCell {
  const first = id * 8;
  return {
    id,
    memory: { unit: 'KiB', value: memoryKiB },
    pages: [
      { unit: 'KiB', size: pageSize, count: 524288n },
      { unit: 'KiB', size: 2048, count: 0n },
      { unit: 'KiB', size: 1048576, count: 0n },
    ],
    cpus: {
      num: 8,
      cpus: Array.from({ length: 8 }, (_, i) => ({
        id: first + i,
        socketId: id,
        dieId: 0,
        coreId: i,
        siblings: String(first + i),
      })),
    },
  };
}

export function defaultCapabilities(): Capabilities {
  const guest = (osType: string) => ({
    osType,
    arch: { name: 'i686', wordsize: 32, emulator: '/usr/bin/test-hv', domains: [{ type: 'test' }] },
    features: [{ name: 'pae' }, { name: 'nonpae' }],
  });
  return new Capabilities({
    host: {
      cpu: {
        arch: 'i686',
        flags: ['pae', 'nonpae'],
        pages: [
          { unit: 'KiB', size: 4 },
          { unit: 'KiB', size: 8 },
          { unit: 'KiB', size: 2048 },
          { unit: 'KiB', size: 1048576 },
        ],
      },
      powerManagement: {},
      iommu: false,
      topology: { cells: { num: 2, cells: [cell(0, 2097152n, 4), cell(1, 4194304n, 8)] } },
      secModels: [{ model: 'testSecurity', doi: '' }],
    },
    guests: [guest('hvm'), guest('xen')],
  });
}

/**
 * The host of a config-file connection: libvirt reports the same host CPU
 * and guests, but no NUMA cells (the file's `<cpu><nodes>` only reaches
 * `nodeinfo`).
 */
export function configCapabilities(): Capabilities {
  const caps = defaultCapabilities();
  return new Capabilities({
    ...caps,
    host: { ...caps.host, topology: { cells: { num: 0, cells: [] } } },
  });
}

/** The domain every `test:///default` connection starts with, running. */
export const DEFAULT_DOMAIN_XML = `<domain type='test'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <target dev='testnet0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memballoon>
  </devices>
</domain>
`;
