/**
 * What a user-chosen name may be inside `-cpu`.
 *
 * QEMU's `-cpu` parser takes the model up to the first comma, then splits
 * the rest on every comma with no escape (doubling a comma does not help
 * there), and reads `name=value` up to the first `=`. So a model or
 * feature name carrying `,` or `=` would set other CPU properties
 * (`model-id`, `vendor`, `level`, ...). Such names are refused rather than
 * escaped, and a feature must be one the x86 CPU map knows, so a QEMU
 * property name that is not a CPU feature (`model-id`, `phys-bits`) cannot
 * pass as one.
 *
 * @module
 */
import type { X86Database } from '../../../cpu/x86-db.js';
import { VirError } from '../../../errors.js';
import { checkValue } from './escape.js';

/** QEMU's CPU model names: letters, digits and `-_.+` (`Skylake-Client-v4`, `486`, `qemu64`). */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;
/** QOM property names as CPU features use them: `sse4.2`, `avx512-vp2intersect`, `tsc_adjust`. */
const FEATURE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** libvirt's limit for the Hyper-V vendor id (the CPUID leaf holds 12 bytes). */
const VENDOR_ID_MAX = 12;

function refuse(field: string, value: string, why: string): never {
  throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: '${checkValue(value, field)}' ${why}`, {
    field,
  });
}

/** A CPU model name safe as the first item of `-cpu`. */
export function cpuModelName(name: string, field = '/domain/cpu/model'): string {
  if (!MODEL_NAME.test(checkValue(name, field)))
    refuse(field, name, 'is not a CPU model name (letters, digits and -_.+ only)');
  return name;
}

/**
 * A CPU feature as QEMU spells it, after checking the name is a feature of
 * the x86 CPU map (by its libvirt name or an alias).
 */
export function cpuFeatureName(
  name: string,
  db: X86Database | undefined,
  field = `/domain/cpu/feature[@name='${name}']`,
): string {
  if (!FEATURE_NAME.test(checkValue(name, field)))
    refuse(field, name, 'is not a CPU feature name (letters, digits and -_. only)');
  if (db && !db.featureAnyName(name)) refuse(field, name, 'is not a known CPU feature');
  return name;
}

/** The Hyper-V vendor id: at most 12 printable ASCII characters, no comma (libvirt's rule). */
export function hypervVendorId(value: string, field = '/domain/features/hyperv/vendor_id/@value'): string {
  if (value.length === 0 || value.length > VENDOR_ID_MAX)
    refuse(field, value, `must be 1 to ${VENDOR_ID_MAX} characters`);
  if (!/^[\x20-\x7e]+$/.test(value) || value.includes(','))
    refuse(field, value, 'may hold printable ASCII characters other than a comma only');
  return value;
}
