/**
 * libvirt's named capability flags, derived from what a probe recorded. The
 * lookups are data (`capability-flag-rules.ts`, `capability-flag-qom-types.ts`);
 * this module applies them in the order libvirt probes, because some rules
 * depend on flags set before them (a device's properties count only when
 * the device exists), and adds the few rules that are not lookups.
 *
 * @module
 */
import {
  isQemuCapabilityFlag,
  QEMU_CAPABILITY_FLAG_ORDER,
  type QemuCapabilityFlag,
} from './capability-flag-names.js';
import { QOM_TYPE_FLAGS } from './capability-flag-qom-types.js';
import {
  COMMAND_FLAGS,
  COMMAND_LINE_FLAGS,
  DEVICE_PROP_FLAGS,
  MACHINE_PROP_FLAGS,
  MIGRATION_CAPABILITY_FLAGS,
  type NameFlag,
  OBJECT_PROP_FLAGS,
  SCHEMA_PATH_FLAGS,
  TPM_MODEL_FLAGS,
  TPM_TYPE_FLAGS,
  type TypePropsRule,
} from './capability-flag-rules.js';
import type { AccelProbeData, ProbeData, QmpMachineInfo } from './probe-data.js';
import { QapiSchema } from './qapi-schema.js';

/** Architectures whose machines embed the `esp` SCSI controller (libvirt's `ncr53c90`). */
const ESP_ARCHS = new Set(['sparc', 'm68k', 'mips']);

/** Tables of virtio-blk properties: their `scsi` default tells whether SCSI passthrough is off by default. */
const VIRTIO_BLK_TYPES = new Set(['virtio-blk-pci', 'virtio-blk-ccw']);

/**
 * The flags one probe stands for, in libvirt's order.
 *
 * @param arch libvirt's name of the target architecture (`x86_64`).
 */
export function deriveCapabilityFlags(data: ProbeData, arch: string): QemuCapabilityFlag[] {
  const flags = new Set<QemuCapabilityFlag>();
  const setAll = (table: readonly NameFlag[], present: (name: string) => boolean) => {
    for (const [name, flag] of table) if (present(name)) flags.add(flag);
  };

  // 1. The QMP schema: paths, then commands.
  const schema = data.qmpSchema ? new QapiSchema(data.qmpSchema) : undefined;
  if (schema) {
    setAll(SCHEMA_PATH_FLAGS, (path) => schema.has(path));
    setAll(COMMAND_FLAGS, (command) => schema.has(command));
    if (
      schema.has('block-commit/arg-type/backing-mask-protocol') &&
      schema.has('block-stream/arg-type/backing-mask-protocol')
    ) {
      flags.add('blockjob.backing-mask-protocol');
    }
  } else if (data.commands) {
    // A probe without the schema (older recordings) still knows the command names.
    const commands = new Set(data.commands);
    setAll(COMMAND_FLAGS, (command) => commands.has(command));
  }

  // 2. KVM: libvirt wants it both compiled in and enabled.
  if (data.kvm?.present === true && data.kvm.enabled === true) flags.add('kvm');
  const primary: AccelProbeData | undefined = flags.has('kvm') ? data.accel.kvm : data.accel.tcg;

  // 3. QOM types, then the properties of the types that exist.
  const types = new Set(data.qomTypes ?? []);
  setAll(QOM_TYPE_FLAGS, (type) => types.has(type));
  const props = data.typeProps ?? {};
  const applyProps = (rule: TypePropsRule, qomType: string) => {
    if (rule.onlyIf !== undefined && !flags.has(rule.onlyIf)) return;
    const known = new Set(props[qomType] ?? []);
    setAll(rule.props, (prop) => known.has(prop));
  };
  for (const rule of DEVICE_PROP_FLAGS) {
    applyProps(rule, rule.type);
    const scsiDefault = data.typePropDefaults?.[rule.type]?.scsi;
    if (VIRTIO_BLK_TYPES.has(rule.type) && scsiDefault === false && props[rule.type]?.includes('scsi')) {
      flags.add('virtio-blk-pci.scsi.default.disabled');
    }
  }
  for (const rule of OBJECT_PROP_FLAGS) applyProps(rule, rule.type);

  // 4. Machine properties, on the QOM type of the machine an alias stands for.
  for (const { rule, qomType } of machinePropQueries(primary?.machines ?? [], arch))
    applyProps(rule, qomType);

  // 5. CPU definitions: `max` being a model of the main accelerator.
  if (flags.has('query-cpu-definitions') && primary?.cpuDefinitions?.some((d) => d.name === 'max')) {
    flags.add('cpu-max');
  }

  // 6. TPM, command-line options, migration capabilities.
  const tpmModels = new Set(data.tpmModels ?? []);
  setAll(TPM_MODEL_FLAGS, (m) => tpmModels.has(m));
  if (data.tpmModels) {
    const tpmTypes = new Set(data.tpmTypes ?? []);
    setAll(TPM_TYPE_FLAGS, (t) => tpmTypes.has(t));
  }
  const options = data.commandLineOptions ?? {};
  for (const [option, param, flag] of COMMAND_LINE_FLAGS) {
    const params = options[option];
    if (params && (param === null || params.includes(param))) flags.add(flag);
  }
  const migration = new Set(data.migrationCapabilities ?? []);
  setAll(MIGRATION_CAPABILITY_FLAGS, (c) => migration.has(c));

  // 7. SEV and SGX objects exist in builds for hosts without them: the query tells.
  if (!sevSupported(data)) {
    flags.delete('sev-guest');
    flags.delete('sev-snp-guest');
  }
  if (flags.has('sgx-epc') && !sgxSupported(data)) flags.delete('sgx-epc');

  // 8. Flags implied by others, or by the architecture.
  if (flags.has('cpu-unavailable-features')) flags.add('canonical-cpu-features');
  if (ESP_ARCHS.has(arch)) flags.add('ncr53c90');

  return sortFlags(flags);
}

/**
 * Which machine QOM types libvirt asks the properties of: each rule's
 * machine under its canonical name (an alias resolves to the machine it
 * stands for), when the binary has it; `none` always, and `generic-pc` on x86.
 */
export function machinePropQueries(
  machines: readonly QmpMachineInfo[],
  arch: string,
): Array<{ rule: TypePropsRule; qomType: string }> {
  const x86 = arch === 'x86_64' || arch === 'i686';
  const guestMachines = machines.filter((m) => m.name !== 'none');
  const out: Array<{ rule: TypePropsRule; qomType: string }> = [];
  for (const rule of MACHINE_PROP_FLAGS) {
    const canonical = guestMachines.find((m) => m.alias === rule.type)?.name ?? rule.type;
    const asked =
      canonical === 'none' ||
      (x86 && canonical === 'generic-pc') ||
      guestMachines.some((m) => m.name === canonical);
    if (asked) out.push({ rule, qomType: `${canonical}-machine` });
  }
  return out;
}

/** Flags in libvirt's order; names we do not know are dropped. */
export function sortFlags(flags: Iterable<string>): QemuCapabilityFlag[] {
  const known = [...new Set(flags)].filter(isQemuCapabilityFlag);
  return known.sort(
    (a, b) => (QEMU_CAPABILITY_FLAG_ORDER.get(a) ?? 0) - (QEMU_CAPABILITY_FLAG_ORDER.get(b) ?? 0),
  );
}

/** Whether `query-sev-capabilities` answered with the facts libvirt needs. */
export function sevSupported(data: ProbeData): boolean {
  const sev = data.sev;
  return (
    typeof sev === 'object' &&
    sev !== null &&
    typeof sev.cbitpos === 'number' &&
    typeof sev['reduced-phys-bits'] === 'number'
  );
}

/** Whether `query-sgx-capabilities` answered with EPC sections (QEMU >= 7.0). */
export function sgxSupported(data: ProbeData): boolean {
  const sgx = data.sgx;
  return typeof sgx === 'object' && sgx !== null && Array.isArray(sgx.sections);
}
