/**
 * libvirt's QEMU namespace (`xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'`):
 * `<qemu:commandline>` with `<qemu:arg value=.../>` passed to QEMU as given and
 * `<qemu:env name=... value=.../>` added to its environment. It is the
 * documented escape hatch for options libvirt has no element for; the
 * arguments go last before `-sandbox`, where libvirt puts them. Beside it:
 * `<qemu:override>` sets or removes properties of a device's `-device`
 * object (found by its alias), `<qemu:deprecation>` becomes `-compat`, and
 * `<qemu:capabilities>` may name retired capability flags only.
 *
 * @module
 */
import { unknownContent } from '../../../conf/binding.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { XmlAttr, XmlElement } from '../../../xml/tree.js';

import { QEMU_NAMESPACE } from '../defaults/qemu-namespace.js';
import { isQemuCapabilityFlag } from '../probe/capability-flag-names.js';
import { RETIRED_QEMU_CAPABILITY_FLAGS } from '../probe/capability-flag-retired.js';

export { QEMU_NAMESPACE };

/** What the QEMU namespace of a definition asks of the command line. */
export interface QemuPassthrough {
  /** `<qemu:arg>` values, passed as given before `-sandbox`. */
  args: string[];
  /** `<qemu:env>` pairs, added after the builder's own environment. */
  env: Array<[string, string]>;
  /**
   * `<qemu:override>`: for each device id (alias), the frontend properties to set
   * (a JSON value) or remove (`undefined`), in document order.
   */
  overrides: Map<string, Array<[string, unknown]>>;
  /** `<qemu:deprecation behavior>`: what QEMU does with deprecated input. */
  deprecation?: 'none' | 'omit' | 'reject' | 'crash';
  /** libvirt's taint flags for what the namespace asks (see CommandLine.taints). */
  taints: string[];
}

const DEPRECATION = new Set(['none', 'omit', 'reject', 'crash']);

/** Everything the QEMU namespace elements of `def` ask for, in document order. */
export function qemuPassthrough(def: DomainDef): QemuPassthrough {
  const out: QemuPassthrough = { args: [], env: [], overrides: new Map(), taints: [] };
  const kept = unknownContent(def);
  if (!kept) return out;
  qemuElements(kept, out);
  if (out.args.length > 0 || out.env.length > 0) out.taints.unshift('custom-argv');
  if (out.overrides.size > 0) out.taints.push('custom-device');
  return out;
}

function qemuElements(kept: NonNullable<ReturnType<typeof unknownContent>>, out: QemuPassthrough): void {
  for (const { node } of kept.nodes) {
    if (node.type !== 'element') continue;
    const scope = [...node.attrs, ...kept.attrs];
    if (inQemuNamespace(node, 'commandline', kept.attrs)) commandline(node, scope, out);
    else if (inQemuNamespace(node, 'capabilities', kept.attrs)) {
      if (capabilities(node, scope) > 0) out.taints.push('custom-hypervisor-feature');
    } else if (inQemuNamespace(node, 'override', kept.attrs)) override(node, scope, out);
    else if (inQemuNamespace(node, 'deprecation', kept.attrs)) {
      const behavior = attr(node, 'behavior', '/domain/qemu:deprecation/@behavior');
      if (!DEPRECATION.has(behavior))
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `unknown deprecation behavior '${behavior}'`, {
          field: '/domain/qemu:deprecation/@behavior',
        });
      out.deprecation = behavior as NonNullable<QemuPassthrough['deprecation']>;
    } else if (inQemuNamespace(node, node.name.slice(node.name.indexOf(':') + 1), kept.attrs)) {
      const local = node.name.slice(node.name.indexOf(':') + 1);
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `<qemu:${local}> is not a QEMU namespace element`, {
        field: `/domain/qemu:${local}`,
      });
    }
  }
}

function commandline(node: XmlElement, scope: readonly XmlAttr[], out: QemuPassthrough): void {
  for (const child of elements(node)) {
    if (inQemuNamespace(child, 'arg', scope)) {
      const field = '/domain/qemu:commandline/qemu:arg/@value';
      out.args.push(checked(attr(child, 'value', field), field));
    } else if (inQemuNamespace(child, 'env', scope)) {
      const name = attr(child, 'name', '/domain/qemu:commandline/qemu:env/@name');
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        throw new VirError('XML_DETAIL', 'qemu', `invalid environment name '${name}'`, {
          field: '/domain/qemu:commandline/qemu:env/@name',
        });
      const value = child.attrs.find((a) => a.name === 'value')?.value ?? '';
      out.env.push([name, checked(value, '/domain/qemu:commandline/qemu:env/@value')]);
    } else unknownChild(child, '/domain/qemu:commandline');
  }
}

/**
 * `<qemu:add>`/`<qemu:del>` turn one of libvirt's capability flags on or off for this
 * guest. A retired name changes nothing, in libvirt as here. A current flag would
 * steer libvirt's command line, but ours follows the probe itself rather than a
 * flag word, so flipping one could not have the effect asked for: refused by name.
 */
function capabilities(node: XmlElement, scope: readonly XmlAttr[]): number {
  let named = 0;
  for (const child of elements(node)) {
    const op = inQemuNamespace(child, 'add', scope)
      ? 'add'
      : inQemuNamespace(child, 'del', scope)
        ? 'del'
        : '';
    if (op === '') {
      unknownChild(child, '/domain/qemu:capabilities');
      continue;
    }
    const field = `/domain/qemu:capabilities/qemu:${op}[@capability]`;
    const name = attr(child, 'capability', field);
    named++;
    if (RETIRED_QEMU_CAPABILITY_FLAGS.has(name)) continue;
    if (!isQemuCapabilityFlag(name))
      throw new VirError('INTERNAL_ERROR', 'qemu', `invalid qemu namespace capability '${name}'`, { field });
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `turning libvirt's capability '${name}' ${op === 'add' ? 'on' : 'off'} has no effect on virtkit's command line`,
      { field },
    );
  }
  return named;
}

/** `<qemu:override><qemu:device alias><qemu:frontend><qemu:property .../>`: libvirt's checks and values. */
function override(node: XmlElement, scope: readonly XmlAttr[], out: QemuPassthrough): void {
  for (const device of elements(node)) {
    if (!inQemuNamespace(device, 'device', scope)) {
      unknownChild(device, '/domain/qemu:override');
      continue;
    }
    const alias = attr(device, 'alias', '/domain/qemu:override/qemu:device/@alias');
    const props = out.overrides.get(alias) ?? [];
    for (const frontend of elements(device)) {
      if (!inQemuNamespace(frontend, 'frontend', scope)) {
        unknownChild(frontend, '/domain/qemu:override/qemu:device');
        continue;
      }
      for (const prop of elements(frontend)) {
        if (!inQemuNamespace(prop, 'property', scope)) {
          unknownChild(prop, '/domain/qemu:override/qemu:device/qemu:frontend');
          continue;
        }
        props.push(overrideProperty(prop));
      }
    }
    out.overrides.set(alias, props);
  }
}

function overrideProperty(prop: XmlElement): [string, unknown] {
  const at = '/domain/qemu:override/qemu:device/qemu:frontend/qemu:property';
  const name = checked(attr(prop, 'name', `${at}/@name`), `${at}/@name`);
  if (name === 'id')
    throw new VirError('XML_ERROR', 'qemu', "property 'id' cannot be overridden", { field: `${at}/@name` });
  const type = attr(prop, 'type', `${at}/@type`);
  const value = prop.attrs.find((a) => a.name === 'value')?.value;
  const field = `${at}[@name='${name}']/@value`;
  const bad = () =>
    new VirError('XML_ERROR', 'qemu', `invalid value '${value}' for a '${type}' property`, { field });
  if (type === 'remove') {
    if (value !== undefined)
      throw new VirError('XML_ERROR', 'qemu', "a 'remove' property takes no value", { field });
    return [name, undefined];
  }
  if (value === undefined)
    throw new VirError('XML_ERROR', 'qemu', `property '${name}' needs a value`, { field });
  switch (type) {
    case 'string':
      return [name, checked(value, field)];
    case 'signed':
    case 'unsigned': {
      const m = /^\s*([+-]?)(\d+)$/.exec(value);
      if (!m || (type === 'unsigned' && m[1] === '-')) throw bad();
      const n = BigInt(`${m[1]}${m[2]}`);
      const [lo, hi] = type === 'signed' ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
      if (n < lo || n > hi) throw bad();
      return [
        name,
        n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n,
      ];
    }
    case 'bool':
      if (value !== 'true' && value !== 'false') throw bad();
      return [name, value === 'true'];
    default:
      throw new VirError('XML_ERROR', 'qemu', `unknown property type '${type}'`, { field: `${at}/@type` });
  }
}

function elements(node: XmlElement): XmlElement[] {
  return node.children.filter((c): c is XmlElement => c.type === 'element');
}

function unknownChild(child: XmlElement, parent: string): never {
  const local = child.name.slice(child.name.indexOf(':') + 1);
  throw new VirError(
    'CONFIG_UNSUPPORTED',
    'qemu',
    `<${child.name}> in <${parent.slice(parent.lastIndexOf('/') + 1)}>`,
    {
      field: `${parent}/qemu:${local}`,
    },
  );
}

/**
 * `-compat`: libvirt hides deprecated output whatever the behavior but `none`, and makes
 * QEMU reject or abort on deprecated input for `reject` and `crash`.
 */
export function compatArgument(ns: QemuPassthrough): Record<string, string> | undefined {
  const b = ns.deprecation;
  if (b === undefined || b === 'none') return undefined;
  return {
    'deprecated-output': 'hide',
    ...(b === 'reject' || b === 'crash' ? { 'deprecated-input': b } : {}),
  };
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

function attr(el: XmlElement, name: string, field: string): string {
  const v = el.attrs.find((a) => a.name === name)?.value;
  if (v === undefined)
    throw new VirError('XML_ERROR', 'qemu', `<${el.name}> needs a ${name} attribute`, { field });
  return v;
}

/** argv carries any byte but NUL, which would end the argument early. */
function checked(value: string, field: string): string {
  if (value.includes('\0')) throw new VirError('XML_DETAIL', 'qemu', 'value contains NUL', { field });
  return value;
}
