/**
 * The `<domain>` fields, in libvirt's output order, and the data type they
 * give: what a domain definition holds, without the {@link DomainDef} class.
 * The parse-time normalisations and checks work on this type, so they sit
 * below the class instead of beside it.
 *
 * @module
 */
import type { XmlElement } from '../../xml/tree.js';
import {
  attr,
  child,
  children,
  childText,
  elementMapper,
  enumOf,
  type Field,
  type Infer,
  int,
  rawChild,
  refine,
  req,
  str,
  trimmed,
  uint,
} from '../binding.js';
import { CpuDef, cpuMapper } from '../cpu.js';
import { clockMapper, LIFECYCLE_ACTIONS } from './clock.js';
import { throttleGroupsMapper } from './devices/disk.js';
import { devicesMapper } from './devices/index.js';
import { featuresMapper } from './features.js';
import { osMapper } from './os.js';
import {
  blkiotuneMapper,
  cputuneMapper,
  currentMemoryMapper,
  defaultIothreadMapper,
  iothreadIdsMapper,
  maxMemoryMapper,
  memoryBackingMapper,
  memoryMapper,
  memtuneMapper,
  numatuneMapper,
  perfMapper,
  pmMapper,
  resourceMapper,
  sysinfoMapper,
  vcpuMapper,
  vcpusMapper,
} from './resources.js';

/** The `type` values of `<domain>`: which hypervisor runs it (`kvm`, `qemu`, `test`, ...). */
export const DOMAIN_TYPES = [
  'none',
  'qemu',
  'kqemu',
  'kvm',
  'xen',
  'lxc',
  'uml',
  'openvz',
  'test',
  'vmware',
  'hyperv',
  'vbox',
  'phyp',
  'parallels',
  'bhyve',
  'vz',
  'ch',
  'hvf',
] as const;
/** One of `DOMAIN_TYPES`. */
export type DomainType = (typeof DOMAIN_TYPES)[number];

/** Repeated opaque children (`<seclabel>`), kept verbatim. */
function rawChildren(name: string): Field<XmlElement[]> {
  return {
    attrNames: [],
    childNames: [name],
    ownsText: false,
    read(el) {
      const out: XmlElement[] = [];
      for (const c of el.children) if (c.type === 'element' && c.name === name) out.push(c);
      return out.length > 0 ? out : undefined;
    },
    writeChildren(value, out) {
      out.push(...value);
    },
  };
}

/** `<cpu>` read into a {@link CpuDef} instance. */
function cpuField(): Field<CpuDef> {
  return {
    attrNames: [],
    childNames: ['cpu'],
    ownsText: false,
    read(el, ctx) {
      for (const c of el.children)
        if (c.type === 'element' && c.name === 'cpu') return CpuDef.fromElement(c, `${ctx.path}/cpu`);
      return undefined;
    },
    writeChildren(value, out) {
      out.push(cpuMapper.write(value));
    },
  };
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

const checkedUuid = refine(trimmed, (s) => (UUID_RE.test(s) ? undefined : `'${s}' is not a UUID`));

// libvirt accepts dashes between any byte pairs; we take the two common spellings and write the canonical one.
const uuidCodec = {
  parse: (raw: string): string => canonicalUuid(checkedUuid.parse(raw)),
  format: (s: string) => s,
};

/** `8-4-4-4-12` lower-case form of a UUID given with or without dashes. */
function canonicalUuid(s: string): string {
  const hex = s.replace(/-/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const launchSecurityMapper = elementMapper('launchSecurity', {
  type: req(attr('type', enumOf(['sev', 'sev-snp', 's390-pv', 'tdx']))),
  kernelHashes: attr('kernelHashes', str),
  cbitpos: childText('cbitpos', uint),
  reducedPhysBits: childText('reducedPhysBits', uint),
  policy: childText('policy', trimmed),
  dhCert: childText('dhCert', trimmed),
  session: childText('session', trimmed),
});
export type LaunchSecurity = Infer<typeof launchSecurityMapper.spec>;

const lifecycle = enumOf(LIFECYCLE_ACTIONS);

/** The `<domain>` fields in libvirt's output order. */
export const domainSpec = {
  type: req(attr('type', enumOf(DOMAIN_TYPES))),
  id: attr('id', int({ min: -1, max: 0x7fffffff })),
  name: req(childText('name', str)),
  uuid: childText('uuid', uuidCodec),
  genid: childText('genid', {
    parse: (raw: string) => (raw.trim() === '' ? '' : uuidCodec.parse(raw)),
    format: (s: string) => s,
  }),
  title: childText('title', str),
  description: childText('description', str),
  metadata: rawChild('metadata'),
  maxMemory: child(maxMemoryMapper),
  memory: child(memoryMapper),
  currentMemory: child(currentMemoryMapper),
  blkiotune: child(blkiotuneMapper),
  memtune: child(memtuneMapper),
  memoryBacking: child(memoryBackingMapper),
  vcpu: child(vcpuMapper),
  vcpus: child(vcpusMapper),
  iothreads: childText('iothreads', uint),
  iothreadIds: child(iothreadIdsMapper),
  defaultIothread: child(defaultIothreadMapper),
  throttleGroups: child(throttleGroupsMapper),
  cputune: child(cputuneMapper),
  numatune: child(numatuneMapper),
  resource: child(resourceMapper),
  sysinfo: children(sysinfoMapper),
  bootloader: childText('bootloader', str),
  bootloaderArgs: childText('bootloader_args', str),
  os: child(osMapper),
  idmap: rawChild('idmap'),
  features: child(featuresMapper),
  /** The `<cpu>` child: the guest CPU. */
  cpu: cpuField(),
  clock: child(clockMapper),
  onPoweroff: childText('on_poweroff', lifecycle),
  onReboot: childText('on_reboot', lifecycle),
  onCrash: childText('on_crash', lifecycle),
  onLockfailure: childText('on_lockfailure', enumOf(['poweroff', 'restart', 'pause', 'ignore'])),
  pm: child(pmMapper),
  perf: child(perfMapper),
  devices: child(devicesMapper),
  /** The `<seclabel>` children, kept as XML. */
  seclabels: rawChildren('seclabel'),
  keywrap: rawChild('keywrap'),
  launchSecurity: child(launchSecurityMapper),
};

export const domainMapper = elementMapper('domain', domainSpec);

/** The fields of a `<domain>`, as `DomainDef` holds them. */
export type DomainDefData = Infer<typeof domainSpec>;
