/**
 * `<os>`: what the guest boots and how (type with arch and machine,
 * firmware auto-selection, loader and NVRAM, direct kernel boot, boot
 * order and menu, SMBIOS and BIOS options).
 *
 * @module
 */
import {
  attr,
  child,
  children,
  childText,
  elementMapper,
  enumOf,
  type Infer,
  int,
  req,
  str,
  text,
  trimmed,
  uint32,
  yesNo,
} from '../binding.js';

/** The values of `<os><type>`: the kind of guest (`hvm` for full virtualization). */
export const OS_TYPES = ['hvm', 'linux', 'xen', 'xenpvh', 'exe', 'uml'] as const;
/** One of `OS_TYPES`. */
export type OsType = (typeof OS_TYPES)[number];

/** The devices `<boot dev>` may name, in libvirt's order. */
export const BOOT_DEVICES = ['fd', 'hd', 'cdrom', 'network'] as const;
/** One of `BOOT_DEVICES`. */
export type BootDevice = (typeof BOOT_DEVICES)[number];

export const osTypeMapper = elementMapper('type', {
  arch: attr('arch', str),
  machine: attr('machine', str),
  value: req(text(enumOf(OS_TYPES))),
});
export type OsTypeDef = Infer<typeof osTypeMapper.spec>;

const firmwareFeatureMapper = elementMapper('feature', {
  enabled: req(attr('enabled', yesNo)),
  name: req(attr('name', str)),
});

export const osFirmwareMapper = elementMapper('firmware', {
  features: children(firmwareFeatureMapper),
});

export const loaderMapper = elementMapper('loader', {
  readonly: attr('readonly', yesNo),
  secure: attr('secure', yesNo),
  type: attr('type', enumOf(['rom', 'pflash'])),
  stateless: attr('stateless', yesNo),
  format: attr('format', str),
  path: text(trimmed),
});
export type Loader = Infer<typeof loaderMapper.spec>;

export const nvramMapper = elementMapper('nvram', {
  template: attr('template', str),
  templateFormat: attr('templateFormat', str),
  type: attr('type', str),
  format: attr('format', str),
  // a typed store (`type='file'`, `'network'`, ...) says where it lives here; other source fields stay verbatim
  source: child(elementMapper('source', { file: attr('file', str) })),
  path: text(trimmed),
});
export type Nvram = Infer<typeof nvramMapper.spec>;

const acpiTableMapper = elementMapper('table', {
  type: req(attr('type', enumOf(['raw', 'rawset', 'slic', 'msdm']))),
  path: text(trimmed),
});

const bootMapper = elementMapper('boot', { dev: req(attr('dev', enumOf(BOOT_DEVICES))) });

export const osMapper = elementMapper('os', {
  firmware: attr('firmware', enumOf(['bios', 'efi'])),
  type: req(child(osTypeMapper)),
  firmwareInfo: child(osFirmwareMapper),
  loader: child(loaderMapper),
  nvram: child(nvramMapper),
  kernel: childText('kernel', trimmed),
  initrd: childText('initrd', trimmed),
  cmdline: childText('cmdline', str),
  dtb: childText('dtb', trimmed),
  acpi: child(elementMapper('acpi', { tables: children(acpiTableMapper) })),
  boot: children(bootMapper),
  bootmenu: child(
    elementMapper('bootmenu', { enable: req(attr('enable', yesNo)), timeout: attr('timeout', uint32) }),
  ),
  smbios: child(elementMapper('smbios', { mode: req(attr('mode', enumOf(['emulate', 'host', 'sysinfo']))) })),
  bios: child(
    elementMapper('bios', {
      useserial: attr('useserial', yesNo),
      rebootTimeout: attr('rebootTimeout', int({ min: -1, max: 65535 })),
    }),
  ),
});
export type OsDef = Infer<typeof osMapper.spec>;
