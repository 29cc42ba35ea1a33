/**
 * The XML namespaces storage pools accept for backend options: mount
 * options of (net)fs pools and Ceph configuration options of RBD pools.
 * They are matched by namespace URI, whatever prefix the document chose,
 * and written with libvirt's prefixes `fs:` and `rbd:`.
 *
 * @module
 */
import type { XmlElement } from '../../xml/tree.js';
import type { Field } from '../binding.js';
import { elementOf, objectError, withCanonicalPrefixes } from '../object-xml.js';

/** The XML namespace of a filesystem pool's extra mount options (`<fs:mount_opts>`). */
export const FS_NS = 'http://libvirt.org/schemas/storagepool/fs/1.0';
/** The XML namespace of an RBD pool's extra Ceph options (`<rbd:config_opts>`). */
export const RBD_NS = 'http://libvirt.org/schemas/storagepool/rbd/1.0';

const CANONICAL: ReadonlyMap<string, string> = new Map([
  [FS_NS, 'fs'],
  [RBD_NS, 'rbd'],
]);

/** A copy of `root` whose pool namespaces use the canonical prefixes (`root` itself when they do). */
export function canonicalPrefix(root: XmlElement): XmlElement {
  return withCanonicalPrefixes(root, CANONICAL);
}

function options(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c): c is XmlElement => c.type === 'element' && c.name === name);
}

function findChild(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c): c is XmlElement => c.type === 'element' && c.name === name);
}

/** `<fs:mount_opts><fs:option name='...'/>...`: extra options for mount(8). */
export const mountOptsField: Field<string[]> = {
  attrNames: [],
  childNames: ['fs:mount_opts'],
  ownsText: false,
  read(el) {
    const c = findChild(el, 'fs:mount_opts');
    if (!c) return undefined;
    const out: string[] = [];
    for (const o of options(c, 'fs:option')) {
      const name = o.attrs.find((a) => a.name === 'name')?.value;
      if (name === undefined)
        throw objectError(
          'XML_ERROR',
          '/pool/fs:mount_opts/fs:option/@name',
          'no fs mount option name specified',
          o,
        );
      out.push(name);
    }
    return out.length > 0 ? out : undefined;
  },
  writeChildren(value, out) {
    out.push(
      elementOf(
        'fs:mount_opts',
        [],
        value.map((name) => elementOf('fs:option', [['name', name]])),
      ),
    );
  },
};

/** One Ceph client option of an RBD pool (`<rbd:option name value>`). */
export interface RbdConfigOption {
  /** The option name. */
  name: string;
  /** Its value. */
  value: string;
}

/** `<rbd:config_opts><rbd:option name='...' value='...'/>...`: Ceph client options. */
export const rbdConfigField: Field<RbdConfigOption[]> = {
  attrNames: [],
  childNames: ['rbd:config_opts'],
  ownsText: false,
  read(el) {
    const c = findChild(el, 'rbd:config_opts');
    if (!c) return undefined;
    const out: RbdConfigOption[] = [];
    for (const o of options(c, 'rbd:option')) {
      const name = o.attrs.find((a) => a.name === 'name')?.value;
      const value = o.attrs.find((a) => a.name === 'value')?.value;
      if (name === undefined || value === undefined)
        throw objectError(
          'XML_ERROR',
          '/pool/rbd:config_opts/rbd:option',
          'an rbd option needs a name and a value',
          o,
        );
      out.push({ name, value });
    }
    return out.length > 0 ? out : undefined;
  },
  writeChildren(value, out) {
    out.push(
      elementOf(
        'rbd:config_opts',
        [],
        value.map((o) =>
          elementOf('rbd:option', [
            ['name', o.name],
            ['value', o.value],
          ]),
        ),
      ),
    );
  },
};
