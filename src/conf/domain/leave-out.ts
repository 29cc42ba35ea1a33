/**
 * What libvirt leaves out of a `<domain>` for some readers: the secrets
 * (a display's password, a network disk's HTTP cookies) for a reader
 * without `VIR_DOMAIN_XML_SECURE`, and the PS/2 and Xen keyboards for the
 * migratable form (`VIR_DOMAIN_XML_MIGRATABLE`).
 *
 * Each rule is here twice, side by side: on the written tree (what the
 * formatter's `hideSecrets` and `migratable` do) and on a model the caller
 * owns (what a driver that hands out `DomainDef` copies does, so a typed
 * read shows what the XML read shows). The model form uses the tree form
 * for the XML the model keeps verbatim (raw children, unknown elements), and
 * a test holds the two to the same output over the fixtures.
 *
 * @module
 */
import type { XmlElement, XmlNode } from '../../xml/tree.js';
import { unknownContent } from '../binding.js';
import type { DomainDefData } from './domain-spec.js';

/**
 * Takes a display's password and a network disk's cookies (at any depth of
 * its chain) out of a `<domain>` tree, in place.
 */
export function leaveOutSecrets(el: XmlElement): void {
  // the user's metadata is theirs, whatever its elements are named
  if (el.name === 'metadata') return;
  if (el.name === 'graphics') el.attrs = el.attrs.filter((a) => a.name !== 'passwd');
  if (el.name === 'source') el.children = el.children.filter((c) => !isElement(c, 'cookies'));
  for (const c of el.children) if (c.type === 'element') leaveOutSecrets(c);
}

/**
 * libvirt versions before USB keyboards were modelled add the PS/2 (or Xen)
 * keyboard themselves and refuse a second one, so the migratable form does
 * not name it; the parse on the other side adds it back.
 */
export function leaveOutForMigration(root: XmlElement): void {
  const attr = (el: XmlElement, name: string) => el.attrs.find((a) => a.name === name)?.value;
  for (const devices of root.children) {
    if (!isElement(devices, 'devices')) continue;
    devices.children = devices.children.filter(
      (c) =>
        !(isElement(c, 'input') && attr(c, 'type') === 'keyboard' && migrationKeyboardBus(attr(c, 'bus'))),
    );
  }
}

/** {@link leaveOutSecrets} on a model the caller owns (its kept XML included), in place. */
export function leaveOutSecretsOf(def: DomainDefData): void {
  for (const g of def.devices?.graphics ?? []) delete g.passwd;
  for (const d of def.devices?.disks ?? []) {
    const kept = d.source ? unknownContent(d.source) : undefined;
    // the model does not type <cookies>: it is kept as unknown XML of the <source>
    if (kept) kept.nodes = kept.nodes.filter((n) => !isElement(n.node, 'cookies'));
  }
  // the XML the model keeps as it was (a <backingStore> chain, unknown devices) by the tree rule
  for (const [key, value] of Object.entries(def)) if (key !== 'metadata') secretsInKeptXml(value);
}

/** {@link leaveOutForMigration} on a model the caller owns, in place. */
export function leaveOutForMigrationOf(def: DomainDefData): void {
  const devices = def.devices;
  if (devices?.inputs)
    devices.inputs = devices.inputs.filter((i) => !(i.type === 'keyboard' && migrationKeyboardBus(i.bus)));
}

/** The keyboard buses an older libvirt adds a keyboard on by itself. */
function migrationKeyboardBus(bus: string | undefined): boolean {
  return bus === 'ps2' || bus === 'xen';
}

function secretsInKeptXml(value: unknown): void {
  if (Array.isArray(value)) {
    for (const v of value) secretsInKeptXml(v);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (isXmlElement(value)) {
    leaveOutSecrets(value);
    return;
  }
  for (const n of unknownContent(value)?.nodes ?? []) if (n.node.type === 'element') leaveOutSecrets(n.node);
  for (const v of Object.values(value)) secretsInKeptXml(v);
}

function isXmlElement(value: object): value is XmlElement {
  const v = value as Partial<XmlElement>;
  return (
    v.type === 'element' && typeof v.name === 'string' && Array.isArray(v.attrs) && Array.isArray(v.children)
  );
}

function isElement(node: XmlNode, name: string): node is XmlElement {
  return node.type === 'element' && node.name === name;
}
