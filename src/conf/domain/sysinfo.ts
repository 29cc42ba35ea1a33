/**
 * `<sysinfo>` rules libvirt applies when it parses a definition: the
 * SMBIOS system UUID and the domain UUID are one value (a definition
 * without `<uuid>` takes the SMBIOS one), and the BIOS date has the
 * SMBIOS `mm/dd/yy[yy]` shape.
 *
 * @module
 */
import { VirError } from '../../errors.js';
import type { DomainDefData } from './domain-spec.js';
import type { Sysinfo } from './resources.js';

const UUID_HEX = /^[0-9a-fA-F]{32}$/;

/** A UUID as libvirt reads it (dashes and spaces between digits tolerated), in its canonical form. */
function canonicalUuid(text: string): string | undefined {
  const hex = text.trim().replace(/[- ]/g, '');
  if (!UUID_HEX.test(hex)) return undefined;
  const h = hex.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The first non-empty value of an entry, as libvirt's `string(entry[@name=…])` gives it. */
export function sysinfoEntry(
  section: { entries?: Array<{ name?: string; value?: string }> } | undefined,
  name: string,
): string | undefined {
  const v = section?.entries?.find((e) => e.name === name)?.value;
  return v === undefined || v === '' ? undefined : v;
}

function checkBiosDate(date: string, field: string): void {
  const m = /^([+-]?\d+)\/([+-]?\d+)\/([+-]?\d+)$/.exec(date);
  const [month, day, year] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, -1];
  if (month < 1 || month > 12 || day < 1 || day > 31 || year < 0 || (year >= 100 && year < 1900))
    throw new VirError('XML_DETAIL', 'conf', `${field}: invalid BIOS 'date' format '${date}'`, { field });
}

/**
 * Runs before the domain UUID is generated, so that a definition without
 * one takes the SMBIOS system UUID.
 */
export function normalizeSysinfo(def: DomainDefData): void {
  for (const [i, si] of (def.sysinfo ?? []).entries()) {
    if (si.type !== 'smbios') continue;
    const base = `/domain/sysinfo[${i + 1}]`;
    const date = sysinfoEntry(si.bios, 'date');
    if (date !== undefined) checkBiosDate(date, `${base}/bios/entry[@name='date']`);
    checkSystemUuid(def, si, `${base}/system/entry[@name='uuid']`);
  }
}

function checkSystemUuid(def: DomainDefData, si: Sysinfo, field: string): void {
  const given = sysinfoEntry(si.system, 'uuid');
  if (given === undefined) return;
  const uuid = canonicalUuid(given);
  if (uuid === undefined)
    throw new VirError('XML_DETAIL', 'conf', `${field}: malformed UUID '${given}'`, { field });
  if (def.uuid === undefined) def.uuid = uuid;
  else if (canonicalUuid(def.uuid) !== uuid)
    throw new VirError('XML_DETAIL', 'conf', 'UUID mismatch between <uuid> and <sysinfo>', { field });
  // The entry is kept in the canonical spelling QEMU is given.
  const entry = si.system?.entries?.find((e) => e.name === 'uuid' && e.value !== undefined && e.value !== '');
  if (entry) entry.value = uuid;
}
