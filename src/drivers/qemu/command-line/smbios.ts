/**
 * `-smbios` from `<sysinfo type='smbios'>` (when `<os><smbios mode='sysinfo'/>`
 * asks for it) and `-fw_cfg` from `<sysinfo type='fwcfg'>`, in libvirt's
 * order: types 0, 1, 2, 3, 11, then the firmware config blobs.
 *
 * Every value is a user string inside a QEMU option list, so each goes
 * through {@link optValue} (commas doubled, control characters refused).
 * An entry QEMU has no field for is refused rather than left out.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { Sysinfo, SysinfoEntry } from '../../../conf/domain/resources.js';
import { VirError } from '../../../errors.js';
import type { ArgvBuilder } from './argv-builder.js';
import { optList, optValue } from './escape.js';

interface Table {
  key: 'bios' | 'system' | 'chassis';
  type: number;
  /** Entry names in the order QEMU's fields are written. */
  fields: readonly string[];
  /** Fields written even when empty (QEMU's table needs them). */
  always?: readonly string[];
}

const BIOS: Table = { key: 'bios', type: 0, fields: ['vendor', 'version', 'date', 'release'] };
const SYSTEM: Table = {
  key: 'system',
  type: 1,
  fields: ['manufacturer', 'product', 'version', 'serial', 'uuid', 'sku', 'family'],
};
const BASE_BOARD = ['manufacturer', 'product', 'version', 'serial', 'asset', 'location'] as const;
const CHASSIS: Table = {
  key: 'chassis',
  type: 3,
  fields: ['manufacturer', 'version', 'serial', 'asset', 'sku'],
  always: ['manufacturer'],
};

/** Entry values by name; an unknown or repeated name is refused. */
function entryValues(entries: SysinfoEntry[] | undefined, known: readonly string[], base: string) {
  const out = new Map<string, string>();
  for (const [i, e] of (entries ?? []).entries()) {
    const field = `${base}/entry[${i + 1}]`;
    if (e.name === undefined || !known.includes(e.name))
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `SMBIOS entry '${e.name ?? ''}' is not supported here`,
        {
          field: `${field}/@name`,
        },
      );
    if (e.file !== undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'an SMBIOS entry cannot come from a file', {
        field: `${field}/@file`,
      });
    if (e.value === undefined || e.value === '') continue;
    if (out.has(e.name))
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `SMBIOS entry '${e.name}' is given twice`, { field });
    out.set(e.name, optValue(e.value, field));
  }
  return out;
}

/** `type=N,key=value,…`, or nothing for a table without values. */
function table(
  type: number,
  fields: readonly string[],
  values: Map<string, string>,
  always: readonly string[] = [],
): string | undefined {
  if (values.size === 0) return undefined;
  const items = [`type=${type}`];
  for (const f of fields) {
    const v = values.get(f);
    if (v !== undefined) items.push(`${f}=${v}`);
    else if (always.includes(f)) items.push(`${f}=`);
  }
  return optList(items);
}

function buildSmbiosTables(b: ArgvBuilder, si: Sysinfo, base: string): void {
  for (const t of [BIOS, SYSTEM]) {
    const v = entryValues(si[t.key]?.entries, t.fields, `${base}/${t.key}`);
    const arg = table(t.type, t.fields, v, t.always);
    if (arg) b.add('-smbios', arg);
  }
  const boards = (si.baseBoards ?? [])
    .map((bb, i) => entryValues(bb.entries, BASE_BOARD, `${base}/baseBoard[${i + 1}]`))
    .filter((v) => v.size > 0);
  if (boards.length > 1)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'QEMU takes only one SMBIOS type 2 (baseBoard) table', {
      field: `${base}/baseBoard[2]`,
    });
  for (const v of boards) b.add('-smbios', table(2, BASE_BOARD, v, ['manufacturer']) ?? '');
  const chassis = entryValues(si.chassis?.entries, CHASSIS.fields, `${base}/chassis`);
  const c = table(CHASSIS.type, CHASSIS.fields, chassis, CHASSIS.always);
  if (c) b.add('-smbios', c);
  // Type 11 keeps every OEM string, in order, whatever its name.
  const oem = (si.oemStrings?.entries ?? []).map((e, i) =>
    optValue(e.value ?? '', `${base}/oemStrings/entry[${i + 1}]`),
  );
  if (oem.length > 0) b.add('-smbios', optList(['type=11', ...oem.map((v) => `value=${v}`)]));
}

export function buildSmbios(b: ArgvBuilder, def: DomainDef): void {
  const mode = def.os?.smbios?.mode;
  const list = def.sysinfo ?? [];
  if (mode === 'host')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'host SMBIOS information is not available', {
      field: '/domain/os/smbios/@mode',
    });
  if (mode === 'sysinfo') {
    const i = list.findIndex((s) => s.type === 'smbios');
    const si = list[i];
    if (!si)
      throw new VirError('XML_ERROR', 'qemu', `domain '${def.name}' has no SMBIOS <sysinfo>`, {
        field: '/domain/os/smbios/@mode',
      });
    buildSmbiosTables(b, si, `/domain/sysinfo[${i + 1}]`);
  }
  for (const [i, si] of list.entries())
    if (si.type === 'fwcfg') buildFwCfg(b, si, `/domain/sysinfo[${i + 1}]`);
}

/** Names under `opt/` are the guest's; QEMU and OVMF keep some of them for themselves. */
const RESERVED_FWCFG = ['opt/ovmf/', 'opt/org.qemu/'];

function buildFwCfg(b: ArgvBuilder, si: Sysinfo, base: string): void {
  for (const [j, e] of (si.entries ?? []).entries()) {
    const field = `${base}/entry[${j + 1}]`;
    const name = e.name;
    if (name === undefined)
      throw new VirError('XML_ERROR', 'qemu', 'a firmware config entry needs a name', {
        field: `${field}/@name`,
      });
    if (!name.startsWith('opt/') || RESERVED_FWCFG.some((p) => name.startsWith(p)))
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `firmware config name '${name}' is not available to guests`,
        {
          field: `${field}/@name`,
        },
      );
    const value = e.value?.trim() === '' ? undefined : e.value;
    const source =
      value !== undefined
        ? `string=${optValue(value, field)}`
        : e.file !== undefined
          ? `file=${optValue(e.file, `${field}/@file`)}`
          : undefined;
    if (source === undefined)
      throw new VirError('XML_ERROR', 'qemu', 'a firmware config entry needs a value or a file', { field });
    b.add('-fw_cfg', optList([`name=${optValue(name, `${field}/@name`)}`, source]));
  }
}
