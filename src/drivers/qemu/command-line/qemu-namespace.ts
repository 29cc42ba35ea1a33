/**
 * libvirt's QEMU namespace (`xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'`):
 * `<qemu:commandline>` with `<qemu:arg value=.../>` passed to QEMU as given and
 * `<qemu:env name=... value=.../>` added to its environment. It is the
 * documented escape hatch for options libvirt has no element for; the
 * arguments go last before `-sandbox`, where libvirt puts them.
 *
 * @module
 */
import { unknownContent } from '../../../conf/binding.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { XmlAttr, XmlElement } from '../../../xml/tree.js';

import { QEMU_NAMESPACE } from '../defaults/qemu-namespace.js';

export { QEMU_NAMESPACE };

export interface QemuPassthrough {
  args: string[];
  env: Array<[string, string]>;
}

/** Arguments and environment of every `<qemu:commandline>` of `def`, in document order. */
export function qemuPassthrough(def: DomainDef): QemuPassthrough {
  const out: QemuPassthrough = { args: [], env: [] };
  const kept = unknownContent(def);
  if (!kept) return out;
  for (const { node } of kept.nodes) {
    if (node.type !== 'element') continue;
    const other = node.name.slice(node.name.indexOf(':') + 1);
    // capabilities, override, deprecation: what they change is not carried out yet, so refuse them
    if (other !== 'commandline' && inQemuNamespace(node, other, kept.attrs))
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `<qemu:${other}> is not supported yet`, {
        field: `/domain/qemu:${other}`,
      });
    if (!inQemuNamespace(node, 'commandline', kept.attrs)) continue;
    for (const child of node.children) {
      if (child.type !== 'element') continue;
      const scope = [...node.attrs, ...kept.attrs];
      if (inQemuNamespace(child, 'arg', scope)) {
        out.args.push(checked(attr(child, 'value'), '/domain/qemu:commandline/qemu:arg/@value'));
      } else if (inQemuNamespace(child, 'env', scope)) {
        const name = attr(child, 'name');
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
          throw new VirError('XML_DETAIL', 'qemu', `invalid environment name '${name}'`, {
            field: '/domain/qemu:commandline/qemu:env/@name',
          });
        const value = child.attrs.find((a) => a.name === 'value')?.value ?? '';
        out.env.push([name, checked(value, '/domain/qemu:commandline/qemu:env/@value')]);
      } else {
        const local = child.name.slice(child.name.indexOf(':') + 1);
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `<${child.name}> in <qemu:commandline>`, {
          field: `/domain/qemu:commandline/qemu:${local}`,
        });
      }
    }
  }
  return out;
}

/** Whether `el` is `local` in the QEMU namespace, by its prefix's declaration on it or an ancestor's attrs. */
function inQemuNamespace(el: XmlElement, local: string, scope: readonly XmlAttr[]): boolean {
  const colon = el.name.indexOf(':');
  const prefix = colon < 0 ? '' : el.name.slice(0, colon);
  if (el.name.slice(colon + 1) !== local) return false;
  const decl = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
  const uri = [...el.attrs, ...scope].find((a) => a.name === decl)?.value;
  return uri === QEMU_NAMESPACE;
}

function attr(el: XmlElement, name: string): string {
  const v = el.attrs.find((a) => a.name === name)?.value;
  if (v === undefined)
    throw new VirError('XML_ERROR', 'qemu', `<${el.name}> needs a ${name} attribute`, {
      field: `/domain/qemu:commandline/${el.name}/@${name}`,
    });
  return v;
}

/** argv carries any byte but NUL, which would end the argument early. */
function checked(value: string, field: string): string {
  if (value.includes('\0')) throw new VirError('XML_DETAIL', 'qemu', 'value contains NUL', { field });
  return value;
}
