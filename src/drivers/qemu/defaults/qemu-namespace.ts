/**
 * libvirt's QEMU namespace on a stored definition: whatever prefix the
 * input bound `http://libvirt.org/schemas/domain/qemu/1.0` to (`ns0:`, a
 * declaration on the element itself, ...), libvirt writes its elements
 * back as `qemu:` with the one declaration on `<domain>`, as it formats
 * them from its own model. Elements of that namespace at domain level are
 * the QEMU driver's (commandline, capabilities, override, deprecation).
 *
 * @module
 */
import { setUnknownContent, unknownContent } from '../../../conf/binding.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { XmlAttr, XmlElement } from '../../../xml/tree.js';

export const QEMU_NAMESPACE = 'http://libvirt.org/schemas/domain/qemu/1.0';

/** The namespace `el`'s prefix is bound to, looking at its own declarations and then `scope` (innermost first). */
function namespaceOf(el: XmlElement, scope: readonly XmlAttr[]): string | undefined {
  const colon = el.name.indexOf(':');
  const decl = colon < 0 ? 'xmlns' : `xmlns:${el.name.slice(0, colon)}`;
  return [...el.attrs, ...scope].find((a) => a.name === decl)?.value;
}

const isQemuDecl = (a: XmlAttr) => a.name.startsWith('xmlns') && a.value === QEMU_NAMESPACE;

/** `el` and its descendants in the QEMU namespace, renamed to the `qemu:` prefix and without their own declarations of it. */
function toQemuPrefix(el: XmlElement, scope: readonly XmlAttr[]): XmlElement {
  const inner = [...el.attrs, ...scope];
  const inQemu = namespaceOf(el, scope) === QEMU_NAMESPACE;
  const local = el.name.slice(el.name.indexOf(':') + 1);
  return {
    ...el,
    name: inQemu ? `qemu:${local}` : el.name,
    attrs: el.attrs.filter((a) => !isQemuDecl(a)),
    children: el.children.map((c) => (c.type === 'element' ? toQemuPrefix(c, inner) : c)),
  };
}

/** libvirt's spelling of the QEMU namespace on `def`, in place. */
export function normalizeQemuNamespace(def: DomainDef): void {
  const kept = unknownContent(def);
  if (!kept) return;
  let any = false;
  const nodes = kept.nodes.map((n) => {
    if (n.node.type !== 'element' || namespaceOf(n.node, kept.attrs) !== QEMU_NAMESPACE) return n;
    any = true;
    return { ...n, node: toQemuPrefix(n.node, kept.attrs) };
  });
  if (!any) return;
  // `qemu` is now libvirt's prefix: another binding of it, or another prefix for the namespace, goes.
  const attrs = kept.attrs.filter((a) => a.name !== 'xmlns:qemu' && !isQemuDecl(a));
  attrs.push({ name: 'xmlns:qemu', value: QEMU_NAMESPACE });
  setUnknownContent(def, { attrs, nodes });
}
