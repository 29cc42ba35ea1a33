/**
 * Declarative XML binding: one table per element family says which XML
 * names map to which typed fields, and both parsing and formatting read that
 * one table (the role struct tags play in libvirt-go-xml).
 *
 * - Field order in the table is libvirt's output order.
 * - Optional values are absent from parsed objects rather than `undefined`,
 *   and absent values are omitted from the output.
 * - What the table does not declare (attributes, elements, comments, other
 *   namespaces) is kept on the parsed object under a hidden key and written
 *   back after the known sibling it followed, so an edit never loses it.
 * - Bad values raise `XML_DETAIL` naming the field path and its line.
 *
 * @module
 */
import { VirError } from '../errors.js';
import type { XmlAttr, XmlElement, XmlNode } from '../xml/tree.js';

// ---------------------------------------------------------------------------
// Value codecs

/** Converts between an attribute/text string and a typed value. */
export interface Codec<T> {
  /** Throws a plain message string (wrapped by the caller with the field path) on bad input. */
  parse(raw: string): T;
  /** The string written for `value`: what `parse` reads back as the same value. */
  format(value: T): string;
}

class CodecError {
  constructor(readonly message: string) {}
}

function fail(message: string): never {
  throw new CodecError(message);
}

/** Text as it is, untrimmed: for values whose whitespace libvirt keeps. */
export const str: Codec<string> = { parse: (s) => s, format: (s) => s };

/** Text with surrounding whitespace trimmed on read (libvirt trims most text values). */
export const trimmed: Codec<string> = { parse: (s) => s.trim(), format: (s) => s };

/** The range and input forms {@link int} accepts. */
export interface IntOptions {
  /** The smallest value accepted; default `Number.MIN_SAFE_INTEGER`. */
  min?: number;
  /** The largest value accepted; default `Number.MAX_SAFE_INTEGER`. */
  max?: number;
  /** Accept `0x` hexadecimal input. Default true. */
  hex?: boolean;
}

/** Integers (decimal, or `0x` hex on input), checked against a range. */
export function int(options: IntOptions = {}): Codec<number> {
  const min = options.min ?? Number.MIN_SAFE_INTEGER;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const hex = options.hex !== false;
  return {
    parse(raw) {
      const s = raw.trim();
      let n: number;
      if (hex && isHexLiteral(s)) n = Number.parseInt(s.slice(2), 16);
      else if (digitsFrom(s, s.charCodeAt(0) === 0x2b || s.charCodeAt(0) === 0x2d ? 1 : 0)) n = Number(s);
      else fail(`'${clip(raw)}' is not an integer`);
      if (!Number.isSafeInteger(n)) fail(`'${clip(raw)}' is out of range`);
      if (n < min || n > max) fail(`${n} is out of range [${min}, ${max}]`);
      return n;
    },
    format: (n) => String(n),
  };
}

// The two number syntaxes as character loops: these run for every numeric
// attribute of every document, where a regular expression costs more.

/** `s` from `from` on is one or more decimal digits. */
function digitsFrom(s: string, from: number): boolean {
  if (from >= s.length) return false;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** `0x` (either case) and one or more hexadecimal digits. */
function isHexLiteral(s: string): boolean {
  if (s.length < 3 || s.charCodeAt(0) !== 0x30 || (s.charCodeAt(1) | 0x20) !== 0x78) return false;
  for (let i = 2; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) continue;
    const l = c | 0x20; // A-F and a-f alike
    if (c < 0x41 || l < 0x61 || l > 0x66) return false;
  }
  return true;
}

/** Unsigned integers up to 2^53 - 1. */
export const uint: Codec<number> = int({ min: 0 });
/** Unsigned 32-bit integers. */
export const uint32: Codec<number> = int({ min: 0, max: 0xffffffff });

/** Unsigned integers written as fixed-width hex (`0x001f`), read as hex or decimal. */
export function hexUint(width: number, max = Number.MAX_SAFE_INTEGER): Codec<number> {
  const inner = int({ min: 0, max });
  return { parse: inner.parse, format: (n) => `0x${n.toString(16).padStart(width, '0')}` };
}

/** Unsigned 64-bit values as bigint (memory sizes in bytes, counters). */
export const uint64: Codec<bigint> = {
  parse(raw) {
    const s = raw.trim();
    if (!digitsFrom(s, 0) && !isHexLiteral(s)) fail(`'${clip(raw)}' is not an unsigned integer`);
    const n = BigInt(s);
    if (n > 0xffffffffffffffffn) fail(`'${clip(raw)}' is out of range`);
    return n;
  },
  format: (n) => n.toString(),
};

/** `yes`/`no` as a boolean. */
export const yesNo: Codec<boolean> = boolCodec('yes', 'no');
/** `on`/`off` as a boolean. */
export const onOff: Codec<boolean> = boolCodec('on', 'off');

function boolCodec(t: string, f: string): Codec<boolean> {
  return {
    parse(raw) {
      if (raw === t) return true;
      if (raw === f) return false;
      fail(`'${clip(raw)}' is not '${t}' or '${f}'`);
    },
    format: (b) => (b ? t : f),
  };
}

/** One of a fixed set of strings. */
export function enumOf<const V extends string>(values: readonly V[]): Codec<V> {
  const set = new Set<string>(values);
  return {
    parse(raw) {
      if (set.has(raw)) return raw as V;
      fail(`unknown value '${clip(raw)}' (expected ${values.map((v) => `'${v}'`).join(', ')})`);
    },
    format: (v) => v,
  };
}

/** A codec with an extra check on the parsed value. */
export function refine<T>(codec: Codec<T>, check: (value: T) => string | undefined): Codec<T> {
  return {
    parse(raw) {
      const v = codec.parse(raw);
      const problem = check(v);
      if (problem) fail(problem);
      return v;
    },
    format: codec.format,
  };
}

function clip(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}...` : s;
}

// ---------------------------------------------------------------------------
// Fields

/** Where a value sits while reading: its path for messages, and the element for its line. */
export interface ReadContext {
  /** The XPath-like path of the element (`/domain/devices/disk[2]`), named in errors. */
  readonly path: string;
  /** The element being read; its line and column go into errors. */
  readonly el: XmlElement;
  /**
   * The declared child elements of `el` by name, in document order, built
   * in the mapper's one pass over the children so that each field finds its
   * elements without scanning them all again. Absent: scan `el.children`.
   */
  readonly kids?: ReadonlyMap<string, readonly XmlElement[]>;
}

/** The child elements named `name` of `el`, from the mapper's index when it covers `el`. */
function namedKids(el: XmlElement, ctx: ReadContext, name: string): readonly XmlElement[] {
  if (ctx.el === el && ctx.kids) return ctx.kids.get(name) ?? NONE;
  const out: XmlElement[] = [];
  for (const c of el.children) if (c.type === 'element' && c.name === name) out.push(c);
  return out;
}

const NONE: readonly XmlElement[] = [];

function firstKid(el: XmlElement, ctx: ReadContext, name: string): XmlElement | undefined {
  if (ctx.el === el && ctx.kids) return ctx.kids.get(name)?.[0];
  return findChild(el, name);
}

/**
 * One typed field of an element. Built-in fields cover attributes, text and
 * children; a custom field (an attribute-discriminated union, say) just
 * implements this interface.
 */
export interface Field<T> {
  /** Attribute names this field reads. */
  readonly attrNames: readonly string[];
  /** Child element names this field reads. */
  readonly childNames: readonly string[];
  /** Whether this field reads the element's own text. */
  readonly ownsText: boolean;
  /** Reads the field from its element; undefined when the element does not have it. */
  read(el: XmlElement, ctx: ReadContext): T | undefined;
  /** Writes the attributes the field holds. */
  writeAttrs?(value: T, out: XmlAttr[]): void;
  /** Writes the child nodes the field holds. */
  writeChildren?(value: T, out: XmlNode[]): void;
}

/**
 * The `XML_DETAIL` error for a bad value at `field` (a path below the
 * element, `@attr` or `child/@attr`; '' for the element itself), naming
 * the full path and the element's line.
 */
export function detailError(ctx: ReadContext, field: string, message: string): VirError {
  const path = field === '' ? ctx.path : `${ctx.path}/${field}`;
  const details: { field: string; line?: number; column?: number } = { field: path };
  if (ctx.el.line !== undefined) details.line = ctx.el.line;
  if (ctx.el.column !== undefined) details.column = ctx.el.column;
  const at = ctx.el.line !== undefined ? ` (line ${ctx.el.line})` : '';
  return new VirError('XML_DETAIL', 'conf', `invalid value for ${path}${at}: ${message}`, details);
}

function decode<T>(codec: Codec<T>, raw: string, ctx: ReadContext, field: string): T {
  try {
    return codec.parse(raw);
  } catch (err) {
    if (err instanceof CodecError) throw detailError(ctx, field, err.message);
    throw err;
  }
}

/** An attribute of the element itself. */
export function attr<T>(name: string, codec: Codec<T>): Field<T> {
  return {
    attrNames: [name],
    childNames: [],
    ownsText: false,
    read(el, ctx) {
      for (const a of el.attrs) if (a.name === name) return decode(codec, a.value, ctx, `@${name}`);
      return undefined;
    },
    writeAttrs(value, out) {
      out.push({ name, value: codec.format(value) });
    },
  };
}

/** The text content of the element itself. */
export function text<T>(codec: Codec<T>): Field<T> {
  return {
    attrNames: [],
    childNames: [],
    ownsText: true,
    read(el, ctx) {
      let raw: string | undefined;
      for (const c of el.children) if (c.type === 'text' || c.type === 'cdata') raw = (raw ?? '') + c.value;
      return raw === undefined ? undefined : decode(codec, raw, ctx, 'text()');
    },
    writeChildren(value, out) {
      // No text node for an empty value: a parser reads `<x></x>` back as no text
      // at all, so writing one would not survive the next round trip.
      const formatted = codec.format(value);
      if (formatted !== '') out.push({ type: 'text', value: formatted });
    },
  };
}

/** A child element holding just text: `<vendor>Intel</vendor>`. */
export function childText<T>(name: string, codec: Codec<T>): Field<T> {
  return childOnly({
    attrNames: [],
    childNames: [name],
    ownsText: false,
    read(el, ctx) {
      const c = firstKid(el, ctx, name);
      if (!c) return undefined;
      let raw = '';
      for (const k of c.children) if (k.type === 'text' || k.type === 'cdata') raw += k.value;
      return decode(codec, raw, { path: `${ctx.path}/${name}`, el: c }, '');
    },
    writeChildren(value, out) {
      out.push({
        type: 'element',
        name,
        attrs: [],
        children: [{ type: 'text', value: codec.format(value) }],
      });
    },
  });
}

/** One attribute of a child element that has nothing else: `<microcode version='240'/>`. */
export function childAttr<T>(name: string, attrName: string, codec: Codec<T>): Field<T> {
  return childOnly({
    attrNames: [],
    childNames: [name],
    ownsText: false,
    read(el, ctx) {
      const c = firstKid(el, ctx, name);
      const raw = c?.attrs.find((a) => a.name === attrName)?.value;
      if (raw === undefined || !c) return undefined;
      return decode(codec, raw, { path: `${ctx.path}/${name}`, el: c }, `@${attrName}`);
    },
    writeChildren(value, out) {
      out.push({
        type: 'element',
        name,
        attrs: [{ name: attrName, value: codec.format(value) }],
        children: [],
      });
    },
  });
}

/** Presence of an empty child element: `<pae/>` -> true. */
export function flag(name: string): Field<boolean> {
  return childOnly({
    attrNames: [],
    childNames: [name],
    ownsText: false,
    read: (el, ctx) => (firstKid(el, ctx, name) ? true : undefined),
    writeChildren(value, out) {
      if (value) out.push({ type: 'element', name, attrs: [], children: [] });
    },
  });
}

/** A single child element mapped by another table. */
export function child<T>(mapper: ElementMapper<T>): Field<T> {
  return childOnly({
    attrNames: [],
    childNames: [mapper.name],
    ownsText: false,
    read(el, ctx) {
      const c = firstKid(el, ctx, mapper.name);
      return c ? mapper.read(c, `${ctx.path}/${mapper.name}`) : undefined;
    },
    writeChildren(value, out) {
      out.push(mapper.write(value));
    },
  });
}

/** Repeated child elements mapped by another table; absent when there are none. */
export function children<T>(mapper: ElementMapper<T>, opts: { min?: number } = {}): Field<T[]> {
  const field: Field<T[]> = {
    attrNames: [],
    childNames: [mapper.name],
    ownsText: false,
    read(el, ctx) {
      const out: T[] = [];
      for (const c of namedKids(el, ctx, mapper.name)) {
        out.push(mapper.read(c, `${ctx.path}/${mapper.name}[${out.length + 1}]`));
      }
      if (opts.min !== undefined && out.length < opts.min) {
        throw detailError(ctx, mapper.name, `at least ${opts.min} <${mapper.name}> element(s) required`);
      }
      return out.length > 0 ? out : undefined;
    },
    writeChildren(value, out) {
      for (const v of value) out.push(mapper.write(v));
    },
  };
  // with a minimum, absence is an error the field itself must raise
  return opts.min === undefined ? childOnly(field) : field;
}

/** A child element kept verbatim (for `<metadata>` and other opaque content). */
export function rawChild(name: string): Field<XmlElement> {
  return childOnly({
    attrNames: [],
    childNames: [name],
    ownsText: false,
    read: (el, ctx) => firstKid(el, ctx, name),
    writeChildren(value, out) {
      out.push(value);
    },
  });
}

const NO_KIDS: ReadonlyMap<string, readonly XmlElement[]> = new Map();

/** Whether a text node holds more than white space, as `trim() !== ''` says, without the copy in the usual case. */
function hasContent(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d) continue;
    // beyond ASCII, trim() also knows other space characters
    return c < 0x80 || v.trim() !== '';
  }
  return false;
}

/**
 * Fields that read one child element name and give `undefined` when no such
 * child is there: the mapper skips them without a call when the element has
 * none, which is most of a wide table like `<devices>` or `<domain>`.
 */
const CHILD_ONLY = new WeakSet<AnyField>();

function childOnly<F extends AnyField>(field: F): F {
  CHILD_ONLY.add(field);
  return field;
}

function findChild(el: XmlElement, name: string): XmlElement | undefined {
  for (const c of el.children) if (c.type === 'element' && c.name === name) return c;
  return undefined;
}

// ---------------------------------------------------------------------------
// Element mappers

/** Content of an element the table does not declare, kept for the way back. */
export interface UnknownContent {
  /** The attributes the table does not declare, in document order. */
  attrs: XmlAttr[];
  /** Each node with the name of the known child element it followed (null: first). */
  nodes: Array<{
    /** The known child element the node came after, so it is written back there; null: before all. */
    after: string | null;
    /** The node itself (an element, text or comment), as parsed. */
    node: XmlNode;
  }>;
}

const UNKNOWN = Symbol.for('virtkit.unknownXml');

/** Unknown XML kept on a parsed object, if any. */
export function unknownContent(value: object): UnknownContent | undefined {
  return (value as { [UNKNOWN]?: UnknownContent })[UNKNOWN];
}

/** Attaches (or replaces) kept unknown XML on an object. */
export function setUnknownContent(value: object, content: UnknownContent | undefined): void {
  if (content === undefined || (content.attrs.length === 0 && content.nodes.length === 0)) {
    delete (value as { [UNKNOWN]?: UnknownContent })[UNKNOWN];
    return;
  }
  Object.defineProperty(value, UNKNOWN, {
    value: content,
    enumerable: false,
    configurable: true,
    writable: true,
  });
}

/** Copies parsed fields, and any kept unknown XML, onto a model instance. */
export function assignParsed<T extends object>(target: T, parsed: object): T {
  Object.assign(target, parsed);
  setUnknownContent(target, unknownContent(parsed));
  return target;
}

// biome-ignore lint/suspicious/noExplicitAny: the spec table holds fields of every value type
type AnyField = Field<any>;
type FieldValue<F> = F extends Field<infer T> ? T : never;
type RequiredKeys<S> = { [K in keyof S]: S[K] extends { readonly required: true } ? K : never }[keyof S];

/**
 * The object type a spec table reads into: fields marked `req()` are
 * required, all others optional.
 */
export type Infer<S extends Record<string, AnyField>> = {
  -readonly [K in keyof S as K extends RequiredKeys<S> ? K : never]: FieldValue<S[K]>;
} & {
  -readonly [K in keyof S as K extends RequiredKeys<S> ? never : K]?: FieldValue<S[K]>;
};

/** Marks a field as always present in the typed object (and in the XML). */
export function req<T>(field: Field<T>): Field<T> & {
  /** Set on fields the element must have: reading refuses an element without it. */
  readonly required: true;
} {
  const marked = Object.assign(Object.create(null) as object, field, { required: true as const });
  if (CHILD_ONLY.has(field)) CHILD_ONLY.add(marked);
  return marked;
}

/**
 * Reads one element into a typed value and writes it back: what
 * {@link elementMapper} builds from a spec table, and what {@link child}
 * and {@link children} take.
 */
export interface ElementMapper<T> {
  /** Element name, exactly as libvirt spells it. */
  readonly name: string;
  /**
   * Reads `el` (whose path in errors is `path`, default `/<name>`). Throws
   * `XML_DETAIL` naming the field for a bad value or a missing required one.
   */
  read(el: XmlElement, path?: string): T;
  /** The element for `value`: declared fields in the table's order, kept unknown XML in its place. */
  write(value: T): XmlElement;
}

/** How {@link elementMapper} treats XML its table does not declare, and its cross-field checks. */
export interface MapperOptions<T> {
  /** Keep undeclared XML on parsed objects and write it back. Default true. */
  keepUnknown?: boolean;
  /** Checks across fields after reading; return a problem to raise `XML_DETAIL`. */
  check?(value: T, ctx: ReadContext): void;
}

/** Builds the mapper for one element from its spec table. */
export function elementMapper<S extends Record<string, AnyField>>(
  name: string,
  spec: S,
  options: MapperOptions<Infer<S>> = {},
): ElementMapper<Infer<S>> & {
  /** The spec table the mapper was built from: field name → which attribute or child it holds. */
  readonly spec: S;
} {
  const entries = Object.entries(spec) as Array<[string, AnyField]>;
  const knownAttrs = new Set<string>();
  const knownChildren = new Set<string>();
  let readsText = false;
  for (const [key, f] of entries) {
    for (const a of f.attrNames) claim(knownAttrs, a, key);
    for (const c of f.childNames) claim(knownChildren, c, key);
    if (f.ownsText) readsText = true;
  }
  function claim(set: Set<string>, xmlName: string, key: string): void {
    // A name claimed twice would make parse and format disagree: a bug in the table.
    if (set.has(xmlName)) throw new Error(`binding for <${name}>: '${xmlName}' claimed twice (field ${key})`);
    set.add(xmlName);
  }
  const keepUnknown = options.keepUnknown !== false;
  // per field: the child name whose absence means the field is absent, if it is that simple
  const skipWithout = entries.map(([, f]) =>
    CHILD_ONLY.has(f) && f.childNames.length === 1 && f.attrNames.length === 0 ? f.childNames[0] : undefined,
  );
  const required = entries.map(([, f]) => (f as { required?: boolean }).required === true);

  return {
    name,
    spec,
    read(el, path = `/${name}`) {
      // One pass over the children: index the declared ones for the fields,
      // keep the others (the work is linear in the element, not fields × children).
      let kids: Map<string, XmlElement[]> | undefined;
      let unknownNodes: UnknownContent['nodes'] | undefined;
      let after: string | null = null;
      for (const c of el.children) {
        if (c.type === 'element') {
          if (knownChildren.has(c.name)) {
            after = c.name;
            kids ??= new Map();
            const list = kids.get(c.name);
            if (list) list.push(c);
            else kids.set(c.name, [c]);
            continue;
          }
        } else if (c.type === 'text' || c.type === 'cdata') {
          if (readsText || !hasContent(c.value)) continue;
        }
        if (!keepUnknown) continue;
        unknownNodes ??= [];
        unknownNodes.push({ after, node: c });
      }
      const ctx: ReadContext = kids ? { path, el, kids } : { path, el, kids: NO_KIDS };
      const out: Record<string, unknown> = {};
      for (let k = 0; k < entries.length; k++) {
        const [key, f] = entries[k]!;
        const only = skipWithout[k];
        const v = only !== undefined && !kids?.has(only) ? undefined : f.read(el, ctx);
        if (v !== undefined) out[key] = v;
        else if (required[k]) {
          const what = f.attrNames[0] ? `@${f.attrNames[0]}` : (f.childNames[0] ?? 'text()');
          throw detailError(
            ctx,
            what,
            f.attrNames[0] ? 'missing required attribute' : 'missing required content',
          );
        }
      }
      if (keepUnknown) {
        let unknownAttrs: XmlAttr[] | undefined;
        for (const a of el.attrs) {
          if (knownAttrs.has(a.name)) continue;
          unknownAttrs ??= [];
          unknownAttrs.push({ name: a.name, value: a.value });
        }
        if (unknownAttrs || unknownNodes)
          setUnknownContent(out, { attrs: unknownAttrs ?? [], nodes: unknownNodes ?? [] });
      }
      const value = out as Infer<S>;
      options.check?.(value, ctx);
      return value;
    },
    write(value) {
      const v = value as Record<string, unknown>;
      const attrs: XmlAttr[] = [];
      const kids: XmlNode[] = [];
      for (const [key, f] of entries) {
        const fv = v[key];
        if (fv === undefined) continue;
        f.writeAttrs?.(fv, attrs);
        f.writeChildren?.(fv, kids);
      }
      const unknown = unknownContent(value as object);
      if (unknown) {
        if (unknown.attrs.length > 0) {
          // a set, not a scan per attribute: a document may carry thousands of unknown ones
          const taken = new Set<string>();
          for (const a of attrs) taken.add(a.name);
          for (const a of unknown.attrs) {
            if (taken.has(a.name)) continue;
            taken.add(a.name);
            attrs.push(a);
          }
        }
        if (unknown.nodes.length > 0)
          return { type: 'element', name, attrs, children: mergeUnknown(kids, unknown.nodes) };
      }
      return { type: 'element', name, attrs, children: kids };
    },
  };
}

/**
 * Puts each kept node right after the last known element it followed (the
 * end of the first run of same-named siblings). The kept nodes are grouped
 * by that name first, so the work is linear in both lists.
 */
function mergeUnknown(known: XmlNode[], nodes: UnknownContent['nodes']): XmlNode[] {
  const out: XmlNode[] = [];
  const groups = new Map<string, XmlNode[]>();
  for (const n of nodes) {
    if (n.after === null) {
      out.push(n.node);
      continue;
    }
    const g = groups.get(n.after);
    if (g) g.push(n.node);
    else groups.set(n.after, [n.node]);
  }
  const placed = new Set<string>();
  for (let i = 0; i < known.length; i++) {
    const k = known[i]!;
    out.push(k);
    if (k.type !== 'element') continue;
    const next = known[i + 1];
    // Only after the last of a run of same-named siblings.
    if (next?.type === 'element' && next.name === k.name) continue;
    const g = groups.get(k.name);
    if (g && !placed.has(k.name)) {
      for (const node of g) out.push(node);
      placed.add(k.name);
    }
  }
  // nodes whose element is gone keep their order at the end
  for (const n of nodes) if (n.after !== null && !placed.has(n.after)) out.push(n.node);
  return out;
}
