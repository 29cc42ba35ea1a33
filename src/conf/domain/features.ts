/**
 * `<features>`: hypervisor features toggled for the guest. The common
 * ones are typed; the rest (and any a newer libvirt adds) are kept as
 * written.
 *
 * @module
 */
import {
  attr,
  child,
  elementMapper,
  enumOf,
  type Infer,
  onOff,
  req,
  str,
  text,
  uint,
  uint32,
  yesNo,
} from '../binding.js';
import { presence } from './presence.js';

const stateOnly = (name: string) => child(elementMapper(name, { state: attr('state', onOff) }));

const spinlocksMapper = elementMapper('spinlocks', {
  state: req(attr('state', onOff)),
  retries: attr('retries', uint32),
});

const hypervMapper = elementMapper('hyperv', {
  mode: attr('mode', enumOf(['custom', 'passthrough'])),
  relaxed: stateOnly('relaxed'),
  vapic: stateOnly('vapic'),
  spinlocks: child(spinlocksMapper),
  vpindex: stateOnly('vpindex'),
  runtime: stateOnly('runtime'),
  synic: stateOnly('synic'),
  stimer: stateOnly('stimer'),
  reset: stateOnly('reset'),
  vendorId: child(elementMapper('vendor_id', { state: attr('state', onOff), value: attr('value', str) })),
  frequencies: stateOnly('frequencies'),
  reenlightenment: stateOnly('reenlightenment'),
  tlbflush: stateOnly('tlbflush'),
  ipi: stateOnly('ipi'),
  evmcs: stateOnly('evmcs'),
  avic: stateOnly('avic'),
  emsrBitmap: stateOnly('emsr_bitmap'),
  xmmInput: stateOnly('xmm_input'),
});
export type HypervFeatures = Infer<typeof hypervMapper.spec>;

const kvmMapper = elementMapper('kvm', {
  hidden: stateOnly('hidden'),
  hintDedicated: stateOnly('hint-dedicated'),
  pollControl: stateOnly('poll-control'),
  pvIpi: stateOnly('pv-ipi'),
  dirtyRing: child(elementMapper('dirty-ring', { state: attr('state', onOff), size: attr('size', uint32) })),
});
export type KvmFeatures = Infer<typeof kvmMapper.spec>;

const tsegMapper = elementMapper('tseg', { unit: attr('unit', str), value: req(text(uint)) });

// Order is libvirt's output order for these features.
export const featuresMapper = elementMapper('features', {
  acpi: presence('acpi'),
  apic: child(elementMapper('apic', { eoi: attr('eoi', onOff) })),
  pae: presence('pae'),
  hap: stateOnly('hap'),
  viridian: presence('viridian'),
  privnet: presence('privnet'),
  hyperv: child(hypervMapper),
  kvm: child(kvmMapper),
  pvspinlock: stateOnly('pvspinlock'),
  pmu: stateOnly('pmu'),
  vmport: stateOnly('vmport'),
  gic: child(elementMapper('gic', { version: attr('version', str) })),
  smm: child(elementMapper('smm', { state: attr('state', onOff), tseg: child(tsegMapper) })),
  ioapic: child(elementMapper('ioapic', { driver: attr('driver', enumOf(['kvm', 'qemu'])) })),
  vmcoreinfo: stateOnly('vmcoreinfo'),
  htm: stateOnly('htm'),
  asyncTeardown: child(elementMapper('async-teardown', { enabled: attr('enabled', yesNo) })),
  ps2: stateOnly('ps2'),
});
export type Features = Infer<typeof featuresMapper.spec>;
