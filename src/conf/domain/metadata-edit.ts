/**
 * Reading and replacing a definition's metadata as libvirt's
 * `virDomainSetMetadata` / `virDomainGetMetadata` do: the `<title>`, the
 * `<description>`, or one application's element under `<metadata>`, found
 * by its namespace URI.
 *
 * An element handed in is put into the given namespace with the given
 * prefix: the declaration goes on its root, and every element in no
 * namespace takes the prefix (elements already in a namespace keep theirs).
 * Read back, the element comes without that namespace, as libvirt returns
 * it. Each call gives a new definition; the one passed in is left as it was,
 * so the test driver's shared definitions stay intact.
 *
 * @module
 */
import { VirError } from '../../errors.js';
import { parseXml } from '../../xml/parse.js';
import { serializeXml } from '../../xml/serialize.js';
import { cloneNode, type XmlAttr, type XmlElement } from '../../xml/tree.js';
import { setUnknownContent, unknownContent } from '../binding.js';
import { DomainDef } from './domain-def.js';
import { namespaceOf } from './metadata.js';

/** Which metadata a call reads or replaces (libvirt's `VIR_DOMAIN_METADATA_*`). */
export type MetadataKind = 'description' | 'title' | 'element';

/** The metadata kinds, in libvirt's numbering. */
export const METADATA_KINDS: readonly MetadataKind[] = ['description', 'title', 'element'];

/** An XML name without a colon (what a namespace prefix must be). */
const NCNAME = /^[\p{L}_][\p{L}\p{N}\p{M}._\-\u00B7\u203F-\u2040]*$/u;

/**
 * A copy of `def` with the metadata replaced: `value` null (or empty) removes
 * it. For `element`, `uri` names the namespace and `key` its prefix; the
 * caller has checked that they are there (the facade does, as libvirt).
 */
export function withMetadata(
  def: DomainDef,
  kind: MetadataKind,
  value: string | null,
  key?: string,
  uri?: string,
): DomainDef {
  const out = shallowCopy(def);
  const v = value === '' ? null : value;
  if (kind === 'title' || kind === 'description') {
    if (v === null) delete out[kind];
    else out[kind] = v;
    return out;
  }
  const nsUri = uri ?? '';
  const added = v === null ? undefined : namespaced(v, key ?? '', nsUri);
  const old = def.metadata;
  const scope = scopeOf(def);
  const md: XmlElement = old ? { ...old, children: [...old.children] } : blankMetadata();
  md.children = md.children.filter((c) => c.type !== 'element' || namespaceOf(c, scope) !== nsUri);
  if (added) md.children.push(added);
  md.style = 'libxml';
  out.metadata = md;
  return out;
}

/**
 * The metadata of `kind` in `def`: the text, or for `element` the element in
 * namespace `uri` without its prefix. `NO_DOMAIN_METADATA` when there is none.
 */
export function metadataOf(def: DomainDef, kind: MetadataKind, uri?: string): string {
  if (kind === 'title' || kind === 'description') {
    const text = def[kind];
    if (text === undefined) throw missing();
    return text;
  }
  const scope = scopeOf(def);
  const found = def.metadata?.children.find(
    (c): c is XmlElement => c.type === 'element' && namespaceOf(c, scope) === (uri ?? ''),
  );
  if (!found) throw missing();
  const prefix = found.name.includes(':') ? found.name.slice(0, found.name.indexOf(':')) : undefined;
  const plain = withoutNamespace(cloneNode(found), prefix);
  plain.style = 'libxml';
  return serializeXml(plain, { finalNewline: false });
}

function missing(): VirError {
  return new VirError('NO_DOMAIN_METADATA', 'domain', 'Requested metadata element is not present', {
    field: 'metadata',
  });
}

/** The element `xml` in namespace `uri` with prefix `key`, as libvirt injects the namespace. */
function namespaced(xml: string, key: string, uri: string): XmlElement {
  if (!NCNAME.test(key)) {
    throw new VirError('INTERNAL_ERROR', 'xml', 'failed to validate prefix for a new XML namespace', {
      field: 'key',
    });
  }
  let el: XmlElement;
  try {
    el = parseXml(xml, { source: '(metadata_xml)', keepWhitespace: true });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new VirError('XML_DETAIL', 'domain', message, { field: 'metadata' });
  }
  const decl = `xmlns:${key}`;
  if (el.attrs.some((a) => a.name === decl)) {
    throw new VirError('INTERNAL_ERROR', 'xml', 'failed to create a new XML namespace', { field: 'key' });
  }
  // libxml2 writes namespace declarations before the other attributes
  const decls = el.attrs.filter((a) => isNsDecl(a));
  const rest = el.attrs.filter((a) => !isNsDecl(a));
  el.attrs = [...decls, { name: decl, value: uri }, ...rest];
  // whitespace is kept as given: libvirt stores the element as parsed, blanks included
  prefixUnqualified(el, key, false);
  return el;
}

function isNsDecl(a: XmlAttr): boolean {
  return a.name === 'xmlns' || a.name.startsWith('xmlns:');
}

/** Gives `prefix` to every element in no namespace (no prefix, no default namespace in scope). */
function prefixUnqualified(el: XmlElement, prefix: string, inDefaultNs: boolean): void {
  const ownDefault = el.attrs.find((a) => a.name === 'xmlns');
  const defaultNs = ownDefault ? ownDefault.value !== '' : inDefaultNs;
  if (!el.name.includes(':') && !defaultNs) el.name = `${prefix}:${el.name}`;
  for (const c of el.children) if (c.type === 'element') prefixUnqualified(c, prefix, defaultNs);
}

/** The element with `prefix` taken off its names and its declaration removed. */
function withoutNamespace(el: XmlElement, prefix: string | undefined): XmlElement {
  if (prefix !== undefined) {
    const p = `${prefix}:`;
    if (el.name.startsWith(p)) el.name = el.name.slice(p.length);
    el.attrs = el.attrs.filter((a) => a.name !== `xmlns:${prefix}`);
  } else {
    el.attrs = el.attrs.filter((a) => a.name !== 'xmlns');
  }
  for (const c of el.children) if (c.type === 'element') withoutNamespace(c, prefix);
  return el;
}

/** The namespace declarations the metadata's children see from above them. */
function scopeOf(def: DomainDef): XmlAttr[] {
  return [...(def.metadata?.attrs ?? []), ...(unknownContent(def)?.attrs ?? [])];
}

function blankMetadata(): XmlElement {
  return { type: 'element', name: 'metadata', attrs: [], children: [] };
}

/** A new definition sharing every part of `def` (none of which this module changes in place). */
function shallowCopy(def: DomainDef): DomainDef {
  const out = Object.assign(Object.create(DomainDef.prototype) as DomainDef, def);
  setUnknownContent(out, unknownContent(def));
  return out;
}
