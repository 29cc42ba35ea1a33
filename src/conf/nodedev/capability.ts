/**
 * `<capability type='...'>` elements: one element name, many shapes. A
 * capability table maps each type to the mapper of its shape; the field
 * built from it reads every `<capability>` child with the mapper its type
 * names and writes them back the same way.
 *
 * @module
 */
import type { XmlElement } from '../../xml/tree.js';
import { type Codec, type ElementMapper, type Field, int, refine, trimmed } from '../binding.js';
import { objectError } from '../object-xml.js';

/** The mappers of the nested capabilities a node device capability may hold, by type. */
// biome-ignore lint/suspicious/noExplicitAny: a table holds mappers of every capability shape
export type CapabilityTable = Readonly<Record<string, ElementMapper<any>>>;

/** How a list of nested capabilities is read. */
export interface CapabilitiesOptions {
  /**
   * Sort into the table's order on reading (libvirt writes nested
   * capabilities in a fixed order, whatever order the document used).
   */
  sorted?: boolean;
  /** Types libvirt reads without complaint but does not keep. */
  ignore?: (type: string | undefined) => boolean;
  /** Refuses a type the table lacks (default: an error naming the type). */
  unknown?: (type: string | undefined, el: XmlElement, path: string) => never;
}

function refuse(type: string | undefined, el: XmlElement, path: string): never {
  if (type === undefined) throw objectError('XML_ERROR', `${path}/@type`, 'missing capability type', el);
  throw objectError('CONFIG_UNSUPPORTED', `${path}/@type`, `unknown capability type '${type}'`, el);
}

/** The `<capability>` children of an element, typed by `table`. */
export function capabilitiesField<
  T extends {
    /** The capability's `type` attribute, which picks its mapper in the table. */
    type: string;
  },
>(table: CapabilityTable, options: CapabilitiesOptions = {}): Field<T[]> {
  const order = Object.keys(table);
  return {
    attrNames: [],
    childNames: ['capability'],
    ownsText: false,
    read(el, ctx) {
      const out: T[] = [];
      let i = 0;
      for (const c of el.children) {
        if (c.type !== 'element' || c.name !== 'capability') continue;
        i++;
        const path = `${ctx.path}/capability[${i}]`;
        const type = c.attrs.find((a) => a.name === 'type')?.value;
        const mapper = type === undefined ? undefined : table[type];
        if (!mapper) {
          if (options.ignore?.(type)) continue;
          return (options.unknown ?? refuse)(type, c, path);
        }
        out.push(mapper.read(c, path) as T);
      }
      if (options.sorted) out.sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
      return out.length > 0 ? out : undefined;
    },
    writeChildren(value, out) {
      for (const cap of value) {
        const mapper = table[cap.type];
        if (mapper) out.push(mapper.write(cap));
      }
    },
  };
}

/** Unsigned decimal numbers (libvirt reads node device numbers in base 10). */
export const dec: Codec<number> = int({ min: 0, max: 0xffffffff, hex: false });

/** Numbers read in base 16 (with or without `0x`) and written `0x` + `width` digits. */
export function hexId(width: number, max = 0xffffffff): Codec<number> {
  const text = refine(trimmed, (s) => {
    if (!/^(0x)?[0-9a-f]+$/i.test(s)) return `'${s}' is not a hexadecimal number`;
    return Number.parseInt(s.replace(/^0x/i, ''), 16) > max ? `'${s}' is out of range` : undefined;
  });
  return {
    parse: (raw) => Number.parseInt(text.parse(raw).replace(/^0x/i, ''), 16),
    format: (n) => `0x${n.toString(16).padStart(width, '0')}`,
  };
}

/** Numbers read as C's base 0 reads them (`0x` hex, leading `0` octal, else decimal), written as hex. */
export function anyBase(width: number, max = 0xffffffff): Codec<number> {
  const value = (s: string) =>
    /^0x[0-9a-f]+$/i.test(s)
      ? Number.parseInt(s.slice(2), 16)
      : /^0[0-7]*$/.test(s)
        ? Number.parseInt(s, 8)
        : /^[1-9]\d*$/.test(s)
          ? Number(s)
          : Number.NaN;
  const text = refine(trimmed, (s) => {
    const n = value(s);
    return Number.isNaN(n) ? `'${s}' is not a number` : n > max ? `'${s}' is out of range` : undefined;
  });
  return {
    parse: (raw) => value(text.parse(raw)),
    format: (n) => `0x${n.toString(16).padStart(width, '0')}`,
  };
}
