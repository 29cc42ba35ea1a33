/**
 * Firmware selection, as libvirt's QEMU driver does it at define time:
 * with `<os firmware='efi'|'bios'>` (autoselection) or a pflash `<loader>`
 * (manual, to learn its NVRAM template), the first descriptor that fits the
 * guest fills in `<loader>`, `<nvram>` and the firmware features; then an
 * NVRAM file path is made up when the guest needs one and has none.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import { type FirmwareDescriptor, globMatch } from './firmware-descriptor.js';

/** What firmware selection chooses from and where it puts NVRAM files. */
export interface FirmwareSelectOptions {
  /** The descriptors in the order they are tried (see `orderFirmwareDescriptors`). */
  descriptors: readonly FirmwareDescriptor[];
  /** Where generated NVRAM files go (libvirt: `/var/lib/libvirt/qemu/nvram`). */
  nvramDir: string;
  /** A new definition (libvirt's ABI update): may pick a non-raw build and a `.raw` NVRAM name. */
  abiUpdate?: boolean;
  /**
   * CODE:VARS pairs (qemu.conf's `nvram` list) tried for a manual pflash
   * loader no descriptor describes, to find its NVRAM template.
   */
  legacy?: ReadonlyArray<{
    /** The firmware code file. */
    code: string;
    /** Its NVRAM template. */
    vars: string;
  }>;
}

/** libvirt's built-in `nvram` list, used when qemu.conf sets none. */
export const DEFAULT_LEGACY_FIRMWARE: ReadonlyArray<{ code: string; vars: string }> = [
  { code: '/usr/share/OVMF/OVMF_CODE.fd', vars: '/usr/share/OVMF/OVMF_VARS.fd' },
  { code: '/usr/share/OVMF/OVMF_CODE.secboot.fd', vars: '/usr/share/OVMF/OVMF_VARS.fd' },
  { code: '/usr/share/AAVMF/AAVMF_CODE.fd', vars: '/usr/share/AAVMF/AAVMF_VARS.fd' },
  { code: '/usr/share/AAVMF/AAVMF32_CODE.fd', vars: '/usr/share/AAVMF/AAVMF32_VARS.fd' },
];

const FORMATS = ['raw', 'qcow2'];
// SEV's policy bit that asks for SEV-ES
const SEV_ES_POLICY = 1 << 2;

function wantedInterface(def: DomainDef): string | undefined {
  const os = def.os;
  if (os?.firmware === 'efi') return 'uefi';
  if (os?.firmware === 'bios') return 'bios';
  if (os?.loader?.type === 'pflash') return 'uefi';
  if (os?.loader?.type === 'rom') return 'bios';
  return undefined;
}

function featureState(def: DomainDef, name: string): boolean | undefined {
  return def.os?.firmwareInfo?.features?.find((f) => f.name === name)?.enabled;
}

function sevPolicy(def: DomainDef): number {
  const p = def.launchSecurity?.policy;
  if (p === undefined) return 0;
  const n = Number(p);
  return Number.isFinite(n) ? n : 0;
}

/** Whether `fw` can boot `def` as it is asked for. */
export function firmwareMatches(def: DomainDef, fw: FirmwareDescriptor): boolean {
  const os = def.os;
  const loader = os?.loader;
  const want = wantedInterface(def);
  if (want === undefined || !fw.interfaces.includes(want)) return false;
  const m = fw.mapping;
  if (m.device === 'flash') {
    if (loader?.path !== undefined && loader.path !== m.executable.filename) return false;
    const template = os?.nvram?.template;
    if (template !== undefined && (m.mode !== 'split' || template !== m.nvramTemplate?.filename))
      return false;
  } else if (m.device === 'memory') {
    if (loader?.path !== undefined && loader.path !== m.filename) return false;
  } else if (os?.kernel !== undefined && os.kernel !== m.filename) return false;
  const machine = os?.type.machine ?? '';
  const arch = os?.type.arch;
  if (!fw.targets.some((t) => t.architecture === arch && t.machines.some((g) => globMatch(g, machine))))
    return false;
  const has = (f: string) => fw.features.includes(f);
  if (def.pm?.suspendToMem?.enabled === true && !has('acpi-s3')) return false;
  if (def.pm?.suspendToDisk?.enabled === true && !has('acpi-s4')) return false;
  for (const [feature, name] of [
    ['secure-boot', 'secure-boot'],
    ['enrolled-keys', 'enrolled-keys'],
  ] as const) {
    const asked = featureState(def, name);
    if (asked !== undefined && asked !== has(feature)) return false;
  }
  if (has('requires-smm')) {
    if (def.features?.smm?.state === false) return false;
    if (loader?.secure === false) return false;
  } else if (loader?.secure === true) return false;
  if (m.device === 'flash') {
    if (loader?.type !== undefined && loader.type !== 'pflash') return false;
    if (loader?.stateless === true ? m.mode !== 'stateless' : m.mode !== 'split') return false;
    if (loader?.readonly === false && m.mode !== 'combined') return false;
    if (!FORMATS.includes(m.executable.format)) return false;
    if (loader?.format !== undefined && loader.format !== m.executable.format) return false;
    if (m.mode === 'split' && !FORMATS.includes(m.nvramTemplate?.format ?? '')) return false;
  } else if (m.device === 'memory') {
    if (loader?.type !== undefined && loader.type !== 'rom') return false;
    if (loader?.readonly === false) return false;
  }
  const sec = def.launchSecurity;
  if (sec?.type === 'sev') {
    if (!has('amd-sev')) return false;
    if (sevPolicy(def) & SEV_ES_POLICY && !has('amd-sev-es')) return false;
  } else if (sec?.type === 'sev-snp' && !has('amd-sev-snp')) return false;
  return true;
}

/** A local NVRAM store (a file), which libvirt may create from the template; a network one it cannot. */
function nvramIsLocal(def: DomainDef): boolean {
  const t = def.os?.nvram?.type;
  return t === undefined || t === 'file' || t === 'block';
}

function applyDescriptor(def: DomainDef, fw: FirmwareDescriptor): void {
  const os = def.os;
  if (!os) return;
  const m = fw.mapping;
  if (m.device === 'flash') {
    os.loader ??= {};
    const loader = os.loader;
    loader.type = 'pflash';
    loader.readonly = true;
    loader.format = m.executable.format;
    loader.path = m.executable.filename;
    if (m.mode === 'split') {
      if (os.nvram) {
        delete os.nvram.template;
        delete os.nvram.templateFormat;
      }
      if (nvramIsLocal(def) && m.nvramTemplate) {
        os.nvram ??= {};
        const nvram = os.nvram;
        nvram.template = m.nvramTemplate.filename;
        nvram.templateFormat = m.nvramTemplate.format;
      }
    }
  } else if (m.device === 'memory') {
    os.loader ??= {};
    const loader = os.loader;
    loader.type = 'rom';
    loader.path = m.filename;
  } else {
    os.kernel = m.filename;
  }
  if (fw.features.includes('requires-smm')) {
    def.features ??= {};
    def.features.smm = { ...def.features.smm, state: true };
    if (os.loader) os.loader.secure = true;
  }
  if (os.firmware === undefined) {
    const first = fw.interfaces.find((i) => i === 'uefi' || i === 'bios');
    if (first) os.firmware = first === 'uefi' ? 'efi' : 'bios';
  }
  if (os.firmware === undefined) return;
  const loader = os.loader;
  // Without a local template the NVRAM's contents are unknown, so whether keys are enrolled is too.
  const keysUnknown =
    loader?.type === 'pflash' && loader.stateless !== true && os.nvram?.template === undefined;
  const features = [];
  if (!keysUnknown) features.push({ enabled: fw.features.includes('enrolled-keys'), name: 'enrolled-keys' });
  features.push({ enabled: fw.features.includes('secure-boot'), name: 'secure-boot' });
  os.firmwareInfo = { features };
}

/** The legacy CODE:VARS list for a raw, read-only, stateful pflash loader; false when it has no entry. */
function applyLegacy(def: DomainDef, options: FirmwareSelectOptions): boolean {
  const os = def.os;
  const loader = os?.loader;
  if (!os || !loader || loader.type !== 'pflash' || loader.readonly === false || loader.stateless === true)
    return false;
  if (loader.format !== undefined && loader.format !== 'raw') return false;
  const entry = (options.legacy ?? []).find((e) => e.code === loader.path);
  if (!entry) return false;
  loader.readonly = true;
  loader.format = 'raw';
  os.nvram ??= {};
  // a template the user chose wins over the list's (say, one with Secure Boot keys)
  if (os.nvram.template === undefined) {
    os.nvram.template = entry.vars;
    os.nvram.templateFormat = 'raw';
  }
  os.nvram.templateFormat ??= 'raw';
  return true;
}

/** Makes up the NVRAM file of a pflash guest that keeps state and has none. */
function ensureNvram(def: DomainDef, options: FirmwareSelectOptions): void {
  const os = def.os;
  const loader = os?.loader;
  if (!os || loader?.type !== 'pflash' || loader.readonly !== true || loader.stateless === true) return;
  if (os.nvram && os.nvram.format === undefined && loader.format !== undefined)
    os.nvram.format = loader.format;
  const nvram = os.nvram;
  // a typed store (`<nvram type=…><source/>`) already says where it lives
  if (nvram?.path !== undefined || nvram?.type !== undefined) return;
  const format = nvram?.templateFormat ?? loader.format;
  let ext = '';
  if (format === 'raw')
    ext = options.abiUpdate === true && nvram?.template?.endsWith('.raw') ? '.raw' : '.fd';
  else if (format === 'qcow2') ext = '.qcow2';
  os.nvram = { ...nvram, path: `${options.nvramDir}/${def.name}_VARS${ext}` };
  delete os.nvram.type;
  if (format === undefined) delete os.nvram.format;
  else os.nvram.format = format;
}

/**
 * Fills in the firmware of `def` in place. Refuses (`CONFIG_UNSUPPORTED`)
 * a loader or NVRAM format QEMU cannot map, and an autoselection request
 * no descriptor satisfies.
 */
export function selectFirmware(def: DomainDef, options: FirmwareSelectOptions): void {
  const os = def.os;
  if (!os) return;
  const auto = os.firmware !== undefined;
  // `<nvram format>` alone asks for a build of that format (libvirt's parser copies it to the loader).
  if (os.loader === undefined && os.nvram?.format !== undefined) os.loader = { format: os.nvram.format };
  if (auto && options.abiUpdate !== true) {
    // An existing guest keeps the raw builds autoselection could only pick before libvirt 9.2.
    os.loader ??= {};
    os.loader.format ??= 'raw';
  }
  for (const [value, field] of [
    [os.loader?.format, '/domain/os/loader/@format'],
    [os.nvram?.format, '/domain/os/nvram/@format'],
  ] as const) {
    if (value !== undefined && !FORMATS.includes(value))
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `unsupported firmware image format '${value}'`, {
        field,
      });
  }
  if (!auto && (os.loader === undefined || os.loader.type === 'rom')) return;
  const fw = options.descriptors.find((d) => firmwareMatches(def, d));
  if (fw) applyDescriptor(def, fw);
  else if (auto) {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `no '${os.firmware}' firmware is compatible with the current configuration${unmetHint(def, options)}`,
      { field: '/domain/os/@firmware' },
    );
  } else if (!applyLegacy(def, options) && os.loader) {
    // a custom build nothing describes: assume raw unless told
    os.loader.format ??= 'raw';
  }
  // A loader that restricts its flash to SMM cannot boot without SMM; autoselection turned it on above.
  if (!auto && os.loader?.secure === true && def.features?.smm?.state !== true)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'Secure boot requires SMM feature enabled', {
      field: '/domain/features/smm',
    });
  ensureNvram(def, options);
}

/**
 * Why autoselection found nothing, when one request is the obvious cause:
 * no descriptors at all, or Secure Boot asked for with SMM switched off
 * (every Secure Boot build needs SMM to protect its variables).
 */
function unmetHint(def: DomainDef, options: FirmwareSelectOptions): string {
  if (options.descriptors.length === 0) return ' (no firmware descriptors were found on this host)';
  const secure = featureState(def, 'secure-boot') === true || def.os?.loader?.secure === true;
  if (secure && def.features?.smm?.state === false)
    return " (Secure Boot firmware needs SMM, which <features><smm state='off'/> switches off)";
  return '';
}
