/**
 * The remaining device kinds: controllers, host devices, watchdog, balloon, RNG,
 * TPM, panic, hub, shared memory, IOMMU, vsock and memory modules.
 *
 * @module
 */

import type { XmlElement } from '../../../xml/tree.js';
import {
  attr,
  child,
  children,
  type ElementMapper,
  elementMapper,
  enumOf,
  type Field,
  hexUint,
  type Infer,
  int,
  onOff,
  rawChild,
  refine,
  req,
  str,
  text,
  trimmed,
  uint,
  uint32,
  yesNo,
} from '../../binding.js';
import { isSizeUnit } from '../../units.js';
import { addressField } from '../address.js';
import { chardevSourceMapper } from './chardev.js';
import { bootOrderMapper } from './disk.js';
import { virtioDriverOptions } from './virtio-options.js';

/** The `type` values of `<controller>` (`pci`, `usb`, `scsi`, `virtio-serial`, ...). */
export const CONTROLLER_TYPES = [
  'ide',
  'fdc',
  'scsi',
  'sata',
  'virtio-serial',
  'ccid',
  'usb',
  'pci',
  'xenbus',
  'isa',
  'nvme',
] as const;
/** One of `CONTROLLER_TYPES`. */
export type ControllerType = (typeof CONTROLLER_TYPES)[number];

export const controllerMapper = elementMapper('controller', {
  type: req(attr('type', enumOf(CONTROLLER_TYPES))),
  index: attr('index', int({ min: 0, max: 0x7fffffff })),
  model: attr('model', str),
  ports: attr('ports', uint32),
  vectors: attr('vectors', uint32),
  maxGrantFrames: attr('maxGrantFrames', uint32),
  maxEventChannels: attr('maxEventChannels', uint32),
  serial: attr('serial', str),
  driver: rawChild('driver'),
  modelName: child(elementMapper('model', { name: req(attr('name', str)) })),
  target: rawChild('target'),
  /** A USB companion controller's place on its master (the controller of the same index without one). */
  master: child(elementMapper('master', { startport: req(attr('startport', uint)) })),
  address: addressField(),
  /** A root PCI controller's 64-bit PCI hole; written in KiB after normalisation, as libvirt stores it. */
  pcihole64: child(
    elementMapper('pcihole64', {
      unit: attr(
        'unit',
        refine(str, (u) => (isSizeUnit(u) ? undefined : `unknown unit '${u}'`)),
      ),
      value: req(text(uint)),
    }),
  ),
});
export type ControllerDef = Infer<typeof controllerMapper.spec>;

/** A host PCI device: `<address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/>`. */
const hostPciAddressMapper = elementMapper('address', {
  domain: attr('domain', hexUint(4, 0xffff)),
  bus: attr('bus', hexUint(2, 0xff)),
  slot: attr('slot', hexUint(2, 0x1f)),
  function: attr('function', hexUint(1, 7)),
});

/** A host USB device by position: `<address bus='1' device='2'/>`. */
const hostUsbAddressMapper = elementMapper('address', {
  bus: req(attr('bus', uint32)),
  device: req(attr('device', uint32)),
});

const hostdevSourceSpec = {
  startupPolicy: attr('startupPolicy', enumOf(['mandatory', 'requisite', 'optional'])),
  vendor: child(elementMapper('vendor', { id: req(attr('id', hexUint(4, 0xffff))) })),
  product: child(elementMapper('product', { id: req(attr('id', hexUint(4, 0xffff))) })),
};
const hostdevPciSourceMapper = elementMapper('source', {
  ...hostdevSourceSpec,
  address: child(hostPciAddressMapper),
});
const hostdevUsbSourceMapper = elementMapper('source', {
  ...hostdevSourceSpec,
  address: child(hostUsbAddressMapper),
});
const hostdevOtherSourceMapper = elementMapper('source', {
  ...hostdevSourceSpec,
  address: rawChild('address'),
});

export type HostdevPciSource = Infer<typeof hostdevPciSourceMapper.spec>;
export type HostdevUsbSource = Infer<typeof hostdevUsbSourceMapper.spec>;
/** A host device's `<source>`: a PCI or USB address, or another kind's source. */
export type HostdevSource = HostdevPciSource | HostdevUsbSource | Infer<typeof hostdevOtherSourceMapper.spec>;

/** `<source>` of a host device, whose address shape depends on the host device's `type`. */
function hostdevSourceField(): Field<HostdevSource> {
  const pick = (type: string | undefined): ElementMapper<HostdevSource> =>
    (type === 'pci'
      ? hostdevPciSourceMapper
      : type === 'usb'
        ? hostdevUsbSourceMapper
        : hostdevOtherSourceMapper) as ElementMapper<HostdevSource>;
  return {
    attrNames: [],
    childNames: ['source'],
    ownsText: false,
    read(el, ctx) {
      const src = el.children.find((c): c is XmlElement => c.type === 'element' && c.name === 'source');
      if (!src) return undefined;
      return pick(el.attrs.find((a) => a.name === 'type')?.value).read(src, `${ctx.path}/source`);
    },
    writeChildren(value, out) {
      // The shape to write follows the address held: USB has a device number, others are raw.
      const a = value.address as Record<string, unknown> | undefined;
      const type = a === undefined ? 'pci' : 'device' in a ? 'usb' : a.type === 'element' ? undefined : 'pci';
      out.push(pick(type).write(value));
    },
  };
}

export const hostdevMapper = elementMapper('hostdev', {
  mode: req(attr('mode', enumOf(['subsystem', 'capabilities']))),
  type: req(attr('type', str)),
  managed: attr('managed', yesNo),
  sgio: attr('sgio', enumOf(['filtered', 'unfiltered'])),
  rawio: attr('rawio', yesNo),
  model: attr('model', str),
  /** Whether the device's display is shown (vGPUs), and through a ramfb boot display. */
  display: attr('display', onOff),
  ramfb: attr('ramfb', onOff),
  // libvirt writes the host driver before the source
  driver: rawChild('driver'),
  /** The `<source>` child: the host device given to the guest. */
  source: hostdevSourceField(),
  boot: child(bootOrderMapper),
  rom: rawChild('rom'),
  address: addressField(),
});
export type HostdevDef = Infer<typeof hostdevMapper.spec>;

export const watchdogMapper = elementMapper('watchdog', {
  model: req(attr('model', str)),
  action: attr('action', enumOf(['reset', 'shutdown', 'poweroff', 'pause', 'none', 'dump', 'inject-nmi'])),
  address: addressField(),
});
export type WatchdogDef = Infer<typeof watchdogMapper.spec>;

export const memballoonMapper = elementMapper('memballoon', {
  model: req(
    attr('model', enumOf(['virtio', 'xen', 'none', 'virtio-transitional', 'virtio-non-transitional'])),
  ),
  autodeflate: attr('autodeflate', onOff),
  freePageReporting: attr('freePageReporting', onOff),
  stats: child(elementMapper('stats', { period: req(attr('period', uint32)) })),
  address: addressField(),
});
export type MemballoonDef = Infer<typeof memballoonMapper.spec>;

const rngBackendMapper = elementMapper('backend', {
  model: req(attr('model', enumOf(['random', 'egd', 'builtin']))),
  type: attr('type', str),
  sources: children(chardevSourceMapper),
  protocol: child(elementMapper('protocol', { type: req(attr('type', str)) })),
  path: text(trimmed),
});

export const rngMapper = elementMapper('rng', {
  model: req(attr('model', str)),
  rate: child(elementMapper('rate', { bytes: req(attr('bytes', uint32)), period: attr('period', uint32) })),
  backend: req(child(rngBackendMapper)),
  address: addressField(),
});
export type RngDef = Infer<typeof rngMapper.spec>;

const tpmBackendMapper = elementMapper('backend', {
  type: req(attr('type', enumOf(['passthrough', 'emulator', 'external']))),
  version: attr('version', enumOf(['1.2', '2.0'])),
  persistentState: attr('persistent_state', yesNo),
  debug: attr('debug', uint32),
  device: child(elementMapper('device', { path: req(attr('path', str)) })),
  // libvirt writes the emulator's state source after its encryption and PCR banks.
  encryption: child(elementMapper('encryption', { secret: req(attr('secret', str)) })),
  activePcrBanks: rawChild('active_pcr_banks'),
  source: child(
    elementMapper('source', { type: attr('type', str), mode: attr('mode', str), path: attr('path', str) }),
  ),
});

export const tpmMapper = elementMapper('tpm', {
  model: attr('model', enumOf(['tpm-tis', 'tpm-crb', 'tpm-spapr', 'spapr-tpm-proxy'])),
  backend: child(tpmBackendMapper),
  address: addressField(),
});
export type TpmDef = Infer<typeof tpmMapper.spec>;

export const panicMapper = elementMapper('panic', { model: attr('model', str), address: addressField() });
export type PanicDef = Infer<typeof panicMapper.spec>;

export const hubMapper = elementMapper('hub', {
  type: req(attr('type', enumOf(['usb']))),
  address: addressField(),
});
export type HubDef = Infer<typeof hubMapper.spec>;

export const shmemMapper = elementMapper('shmem', {
  name: req(attr('name', str)),
  role: attr('role', enumOf(['master', 'peer'])),
  model: child(elementMapper('model', { type: req(attr('type', str)) })),
  size: child(elementMapper('size', { unit: attr('unit', str), value: req(text(uint)) })),
  server: child(elementMapper('server', { path: attr('path', str) })),
  address: addressField(),
});
export type ShmemDef = Infer<typeof shmemMapper.spec>;

export const iommuMapper = elementMapper('iommu', {
  model: req(attr('model', enumOf(['intel', 'smmuv3', 'virtio']))),
  driver: rawChild('driver'),
  address: addressField(),
});
export type IommuDef = Infer<typeof iommuMapper.spec>;

export const vsockMapper = elementMapper('vsock', {
  model: attr('model', enumOf(['virtio', 'virtio-transitional', 'virtio-non-transitional'])),
  cid: child(elementMapper('cid', { auto: attr('auto', yesNo), address: attr('address', uint32) })),
  address: addressField(),
  // libvirt writes the virtio options after the device's address.
  driver: child(elementMapper('driver', virtioDriverOptions)),
});
export type VsockDef = Infer<typeof vsockMapper.spec>;

export const memoryDeviceMapper = elementMapper('memory', {
  model: req(attr('model', enumOf(['dimm', 'nvdimm', 'virtio-pmem', 'virtio-mem', 'sgx-epc']))),
  access: attr('access', enumOf(['shared', 'private'])),
  discard: attr('discard', yesNo),
  source: rawChild('source'),
  target: rawChild('target'),
  address: addressField(),
});
export type MemoryDeviceDef = Infer<typeof memoryDeviceMapper.spec>;

export const cryptoMapper = elementMapper('crypto', {
  model: req(attr('model', enumOf(['virtio']))),
  type: req(attr('type', enumOf(['qemu']))),
  backend: req(
    child(
      elementMapper('backend', {
        model: req(attr('model', enumOf(['builtin', 'lkcf']))),
        queues: attr('queues', uint32),
      }),
    ),
  ),
  // libvirt writes the virtio options after the backend
  driver: rawChild('driver'),
  address: addressField(),
});
export type CryptoDef = Infer<typeof cryptoMapper.spec>;
