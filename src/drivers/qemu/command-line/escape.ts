/**
 * Making user-controlled values safe for QEMU's option syntax.
 *
 * QEMU splits `-opt key=value,key=value` on commas; a literal comma inside a
 * value is written twice. JSON arguments (`-device '{...}'`) need no such
 * escaping, but QEMU still cannot take a value with a line break or a NUL
 * anywhere: those are refused up front, naming the field, rather than
 * handed to QEMU to misparse.
 *
 * @module
 */
import { VirError } from '../../../errors.js';

/** Characters QEMU's option and JSON parsers cannot carry through to the guest faithfully. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find control characters
const FORBIDDEN = /[\u0000-\u001f\u007f]/;

/**
 * Refuses a value QEMU cannot take (control characters such as newlines or
 * NUL), naming the XML field it came from.
 */
export function checkValue(value: string, field: string): string {
  const m = FORBIDDEN.exec(value);
  if (m) {
    const code = m[0].charCodeAt(0).toString(16).padStart(2, '0');
    throw new VirError(
      'XML_DETAIL',
      'qemu',
      `${field}: value contains control character U+00${code}, which a QEMU command line cannot carry`,
      { field },
    );
  }
  return value;
}

/** A value for a QEMU key=value list: checked, then each comma doubled. */
export function optValue(value: string, field: string): string {
  return checkValue(value, field).replaceAll(',', ',,');
}

/** One `key=value` item list, values already escaped by the caller. */
export function optList(items: ReadonlyArray<string | undefined | false>): string {
  return items.filter((s): s is string => typeof s === 'string' && s !== '').join(',');
}

/**
 * JSON text of an option object, as QEMU's JSON command-line syntax takes
 * it. Every string reaching it is checked first (field names the key).
 */
export function jsonArg(obj: Record<string, unknown>, field: string): string {
  checkJsonStrings(obj, field);
  // JSON.stringify cannot write a bigint (a 64-bit WWN, say): it goes through
  // a marker string, which is then replaced by the bare digits.
  const text = JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'bigint' ? `${BIG}${v}` : v));
  return text.replace(BIG_RE, '$1');
}

const BIG = '\u0000bigint:';
const BIG_RE = /"\\u0000bigint:(-?\d+)"/g;

function checkJsonStrings(v: unknown, field: string): void {
  if (typeof v === 'string') checkValue(v, field);
  else if (Array.isArray(v)) for (const x of v) checkJsonStrings(x, field);
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) checkJsonStrings(x, `${field}.${k}`);
}
