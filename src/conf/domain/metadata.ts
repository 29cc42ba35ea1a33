/**
 * `<metadata>`: applications' own elements, one per XML namespace. As
 * libvirt does, an element in no namespace is dropped (nothing could ever
 * find it again), and of several in one namespace only the first is kept:
 * metadata is read and replaced by namespace. The element is written the
 * way libvirt writes it, as libxml2 dumps a node.
 *
 * @module
 */

import type { XmlAttr, XmlElement } from '../../xml/tree.js';
import { unknownContent } from '../binding.js';
import type { DomainDefData } from './domain-spec.js';

/** The namespace URI an element of `<metadata>` is in (its prefix's declaration, on it or in `scope`). */
export function namespaceOf(el: XmlElement, scope: readonly XmlAttr[]): string | undefined {
  const colon = el.name.indexOf(':');
  const decl = colon < 0 ? 'xmlns' : `xmlns:${el.name.slice(0, colon)}`;
  const uri = [...el.attrs, ...scope].find((a) => a.name === decl)?.value;
  return uri === '' ? undefined : uri;
}

export function normalizeMetadata(def: DomainDefData): void {
  const md = def.metadata;
  if (!md) return;
  const scope = [...md.attrs, ...(unknownContent(def)?.attrs ?? [])];
  const seen = new Set<string>();
  md.children = md.children.filter((c) => {
    // whitespace between the applications' elements is layout, re-indented on output
    if (c.type !== 'element') return c.type !== 'text' || c.value.trim() !== '';
    const uri = namespaceOf(c, scope);
    if (uri === undefined || seen.has(uri)) return false;
    seen.add(uri);
    return true;
  });
  for (const c of md.children) if (c.type === 'element') dropLayout(c);
  // libvirt writes metadata as libxml2 dumps it
  md.style = 'libxml';
}

/** Whitespace-only text between child elements is indentation: libvirt parses it away. */
function dropLayout(el: XmlElement): void {
  const text = el.children.some((c) => (c.type === 'text' || c.type === 'cdata') && c.value.trim() !== '');
  if (!text && el.children.some((c) => c.type === 'element'))
    el.children = el.children.filter((c) => c.type !== 'text');
  for (const c of el.children) if (c.type === 'element') dropLayout(c);
}
