/**
 * Pieces shared by the standalone object models (storage pools and
 * volumes, networks, node devices, secrets): root-element checks, errors
 * that name the field and line, UUIDs, paths cleaned the way libvirt
 * cleans them, and fields the binding lacks.
 *
 * @module
 */
import { VirError, type VirErrorCode } from '../errors.js';
import { parseXml } from '../xml/parse.js';
import type { XmlAttr, XmlElement, XmlNode } from '../xml/tree.js';
import { type Codec, type Field, refine, setUnknownContent, trimmed } from './binding.js';

/** Options every object model's `fromXML` takes. */
export interface ParseObjectOptions {
  /**
   * Keep the XML the model does not know (other namespaces, comments,
   * elements of later libvirt versions) and write it back. Default true;
   * `false` formats exactly what libvirt itself would.
   */
  preserveUnknown?: boolean;
}

/** Parses `xml` and checks that its root element is `<name>`. */
export function parseRoot(xml: string, name: string): XmlElement {
  const el = parseXml(xml);
  if (el.name !== name) {
    throw new VirError('XML_ERROR', 'conf', `expected root element <${name}>, found <${el.name}>`, {
      field: '/',
      ...(el.line !== undefined ? { line: el.line } : {}),
    });
  }
  return el;
}

/** A model error naming the field at fault, with the line of `el` when known. */
export function objectError(code: VirErrorCode, field: string, message: string, el?: XmlElement): VirError {
  const at = el?.line !== undefined ? ` (line ${el.line})` : '';
  return new VirError(code, 'conf', `${field}: ${message}${at}`, {
    field,
    ...(el?.line !== undefined ? { line: el.line } : {}),
    ...(el?.column !== undefined ? { column: el.column } : {}),
  });
}

/** Drops kept unknown XML everywhere in a parsed value (the hidden keys are not cloned). */
export function withoutUnknown<T extends object>(value: T): T {
  const copy = structuredClone({ ...value }) as T;
  setUnknownContent(copy, undefined);
  return copy;
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** A UUID, with or without dashes on input, written in the `8-4-4-4-12` lower-case form. */
export const uuid: Codec<string> = {
  parse(raw) {
    const s = refine(trimmed, (v) => (UUID_RE.test(v) ? undefined : `'${v}' is not a UUID`)).parse(raw);
    const hex = s.replace(/-/g, '').toLowerCase();
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  },
  format: (s) => s,
};

/** A fresh random UUID (libvirt generates one when a definition has none). */
export function newUuid(): string {
  return globalThis.crypto.randomUUID();
}

/**
 * A path cleaned as libvirt cleans user paths: repeated slashes collapse
 * (a leading `//` alone is kept, POSIX gives it a meaning), no trailing
 * slash, and URIs (`scheme://...`) left alone.
 */
export function sanitizePath(path: string): string {
  const uri = path.indexOf('://');
  if (uri >= 0 && path.indexOf('/') > uri) return path;
  let out = '';
  let i = 0;
  if (path[0] === '/' && path[1] === '/' && path[2] !== '/') {
    out = '/';
    i = 1;
  }
  while (i < path.length) {
    const c = path[i]!;
    if (c !== '/') {
      out += c;
      i++;
      continue;
    }
    while (path[i] === '/') i++;
    if (out !== '' && i >= path.length) break;
    out += '/';
  }
  return out;
}

/**
 * Child elements the model knows but does not read, because libvirt
 * recomputes them (runtime state such as free extents or timestamps):
 * claimed so they are not kept as unknown XML, and never written.
 */
export function ignored(...names: string[]): Field<never> {
  return { attrNames: [], childNames: names, ownsText: false, read: () => undefined };
}

/** Attributes the model knows but does not read (see `ignored`). */
export function ignoredAttrs(...names: string[]): Field<never> {
  return { attrNames: names, childNames: [], ownsText: false, read: () => undefined };
}

/**
 * libvirt writes some containers with an end tag even when empty
 * (`<source>` of a pool): give such an element the indentation text that
 * makes our serializer do the same at nesting `depth`.
 */
export function keepEndTag(el: XmlElement, depth: number): XmlElement {
  if (el.children.length === 0) el.children.push({ type: 'text', value: `\n${'  '.repeat(depth)}` });
  return el;
}

/** The element children of `el` called `name`. */
export function elementsNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c): c is XmlElement => c.type === 'element' && c.name === name);
}

/** The first element child of `el` called `name`. */
export function firstNamed(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c): c is XmlElement => c.type === 'element' && c.name === name);
}

/** An element holding text. */
export function textElement(name: string, value: string): XmlElement {
  return { type: 'element', name, attrs: [], children: [{ type: 'text', value }] };
}

/** A plain element. */
export function elementOf(
  name: string,
  attrs: Array<[string, string | undefined]>,
  children: XmlNode[] = [],
): XmlElement {
  return {
    type: 'element',
    name,
    attrs: attrs
      .filter((a): a is [string, string] => a[1] !== undefined)
      .map(([n, v]) => ({ name: n, value: v })),
    children,
  };
}

/**
 * Backend options live in XML namespaces that libvirt matches by URI and
 * writes with fixed prefixes. This gives a copy of `root` where every
 * namespace in `canonical` (URI -> prefix) uses its prefix, so a binding
 * can name the elements `prefix:name`; `root` itself when nothing changes.
 */
export function withCanonicalPrefixes(root: XmlElement, canonical: ReadonlyMap<string, string>): XmlElement {
  const rename = new Map<string, string>();
  for (const a of root.attrs) {
    if (!a.name.startsWith('xmlns:')) continue;
    const want = canonical.get(a.value);
    const have = a.name.slice(6);
    if (want !== undefined && want !== have) rename.set(have, want);
  }
  if (rename.size === 0) return root;
  const attrs: XmlAttr[] = root.attrs.map((a) => {
    const p = a.name.startsWith('xmlns:') ? rename.get(a.name.slice(6)) : undefined;
    return p === undefined ? a : { name: `xmlns:${p}`, value: a.value };
  });
  const walk = (n: XmlNode): XmlNode => {
    if (n.type !== 'element') return n;
    const i = n.name.indexOf(':');
    const p = i < 0 ? undefined : rename.get(n.name.slice(0, i));
    return {
      ...n,
      name: p === undefined ? n.name : `${p}${n.name.slice(i)}`,
      children: n.children.map(walk),
    };
  };
  return { ...root, attrs, children: root.children.map(walk) };
}
