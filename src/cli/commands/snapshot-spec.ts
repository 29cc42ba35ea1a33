/**
 * The `<domainsnapshot>` document `snapshot-create-as` builds from its
 * arguments, written as virsh 9.0 writes it (two-space indents, single
 * quotes), so `--print-xml` prints the same text: `--memspec
 * [file=]name[,snapshot=type]` and each `--diskspec
 * disk[,snapshot=type][,driver=type][,stype=type][,file=name]`, with `,,`
 * standing for a comma inside a value.
 *
 * @module
 */
import { CliError } from '../command.js';

/** What `snapshot-create-as` was given for the document. */
export interface SnapshotSpec {
  readonly name?: string;
  readonly description?: string;
  readonly memspec?: string;
  readonly diskspecs: readonly string[];
}

/**
 * virsh's split of a comma list: `,` separates, `,,` is one comma kept in
 * the value, a trailing lone `,` leaves an empty last item.
 */
export function splitCommaList(str: string): string[] {
  const parts = str.split(',');
  const items = [parts[0] as string];
  let join = false;
  for (const part of parts.slice(1)) {
    if (join) {
      items[items.length - 1] += `,${part}`;
      join = false;
    } else if (part === '') join = true;
    else items.push(part);
  }
  if (join) items.push('');
  return items;
}

/** The characters libvirt's buffer escaping drops: 0x01 to 0x19 but tab, newline and return. */
function dropped(c: string): boolean {
  const n = c.charCodeAt(0);
  return n >= 1 && n <= 0x19 && c !== '\t' && c !== '\n' && c !== '\r';
}
const ENTITIES: Readonly<Record<string, string>> = {
  '<': '&lt;',
  '>': '&gt;',
  '&': '&amp;',
  '"': '&quot;',
  "'": '&apos;',
};

/** A value escaped for XML text or a quoted attribute, as libvirt's buffer escapes it. */
function esc(value: string): string {
  let out = '';
  for (const c of value) if (!dropped(c)) out += ENTITIES[c] ?? c;
  return out;
}

/** The value after `key=` when the item starts so. */
function valueAfter(item: string, key: string): string | undefined {
  return item.startsWith(`${key}=`) ? item.slice(key.length + 1) : undefined;
}

function memoryElement(spec: string): string {
  let snapshot: string | undefined;
  let file: string | undefined;
  for (const item of splitCommaList(spec)) {
    const s = snapshot === undefined ? valueAfter(item, 'snapshot') : undefined;
    const f =
      file === undefined
        ? (valueAfter(item, 'file') ?? (item.startsWith('/') ? item : undefined))
        : undefined;
    if (s !== undefined) snapshot = s;
    else if (f !== undefined) file = f;
    else throw new CliError(`unable to parse memspec: ${spec}`);
  }
  const attrs = `${snapshot === undefined ? '' : ` snapshot='${esc(snapshot)}'`}${file === undefined ? '' : ` file='${esc(file)}'`}`;
  return `  <memory${attrs}/>\n`;
}

const DISK_KEYS = ['snapshot', 'driver', 'stype', 'file'] as const;
type DiskKey = (typeof DISK_KEYS)[number];

function diskElement(spec: string): string {
  const [name, ...items] = splitCommaList(spec) as [string, ...string[]];
  const got: Partial<Record<DiskKey, string>> = {};
  for (const item of items) {
    const key = DISK_KEYS.find((k) => got[k] === undefined && valueAfter(item, k) !== undefined);
    if (!key) throw new CliError(`unable to parse diskspec: ${spec}`);
    got[key] = valueAfter(item, key) as string;
  }
  const { snapshot, driver, stype, file } = got;
  if (stype !== undefined && stype !== 'file' && stype !== 'block') {
    throw new CliError(`Unknown storage type: '${stype}'\nerror: unable to parse diskspec: ${spec}`);
  }
  // virsh writes snapshot, stype and driver unescaped; the document's parse then refuses a quote in them.
  let head = `    <disk name='${esc(name)}'`;
  if (snapshot !== undefined) head += ` snapshot='${snapshot}'`;
  if (stype !== undefined) head += ` type='${stype}'`;
  if (driver === undefined && file === undefined) return `${head}/>\n`;
  let body = '';
  if (driver !== undefined) body += `      <driver type='${driver}'/>\n`;
  if (file !== undefined) body += `      <source ${stype === 'block' ? 'dev' : 'file'}='${esc(file)}'/>\n`;
  return `${head}>\n${body}    </disk>\n`;
}

/** The document, ending with a line end as virsh's buffer does; a spec it cannot parse is a {@link CliError} worded as virsh's. */
export function snapshotXml(spec: SnapshotSpec): string {
  let xml = '<domainsnapshot>\n';
  if (spec.name !== undefined) xml += `  <name>${esc(spec.name)}</name>\n`;
  if (spec.description !== undefined) xml += `  <description>${esc(spec.description)}</description>\n`;
  if (spec.memspec !== undefined) xml += memoryElement(spec.memspec);
  if (spec.diskspecs.length > 0) xml += `  <disks>\n${spec.diskspecs.map(diskElement).join('')}  </disks>\n`;
  return `${xml}</domainsnapshot>\n`;
}
