/**
 * The facts of a `DomainDef` the test driver acts on (memory, vCPUs,
 * lifecycle actions), the few edits it makes, and how it formats one.
 *
 * Definitions are never changed in place: a running guest, the next-boot
 * definition and every snapshot may share one object, so an edit returns a
 * copy that shares everything it does not touch (and keeps the unknown XML
 * each touched part carries).
 *
 * @module
 */
import { setUnknownContent, unknownContent } from '../../conf/binding.js';
import type { LifecycleAction } from '../../conf/domain/clock.js';
import type { DomainDef } from '../../conf/domain/domain-def.js';
import { cloneNode, type XmlElement } from '../../xml/tree.js';

/** `<memory>`, KiB. */
export function maxMemKiB(def: DomainDef): number {
  return def.memory?.value ?? 0;
}

/** `<currentMemory>`, KiB (normalisation always sets it). */
export function memoryKiB(def: DomainDef): number {
  return def.currentMemory?.value ?? maxMemKiB(def);
}

/** `<vcpu>`: the maximum. */
export function maxVcpus(def: DomainDef): number {
  return def.vcpu?.count ?? 1;
}

/** `<vcpu current=...>`, or the maximum. */
export function vcpus(def: DomainDef): number {
  return def.vcpu?.current ?? maxVcpus(def);
}

export function onPoweroff(def: DomainDef): LifecycleAction {
  return def.onPoweroff ?? 'destroy';
}

export function onReboot(def: DomainDef): LifecycleAction {
  return def.onReboot ?? 'restart';
}

export function onCrash(def: DomainDef): LifecycleAction {
  return def.onCrash ?? 'destroy';
}

/** What an edit may change. */
export interface DefinitionEdit {
  name?: string;
  /** `<memory>`, the maximum. */
  maxMemoryKiB?: number;
  memoryKiB?: number;
  vcpus?: number;
}

/** A copy of `def` with `edit` applied; `def` itself is left as it was. */
export function edited(def: DomainDef, edit: DefinitionEdit): DomainDef {
  const out = copyOf(def);
  if (edit.name !== undefined) out.name = edit.name;
  if (edit.maxMemoryKiB !== undefined) {
    const max = copyOf(def.memory ?? { unit: 'KiB', value: 0 });
    max.value = edit.maxMemoryKiB;
    out.memory = max;
  }
  if (edit.memoryKiB !== undefined) {
    const current = copyOf(def.currentMemory ?? { unit: 'KiB', value: 0 });
    current.value = edit.memoryKiB;
    out.currentMemory = current;
  }
  if (edit.vcpus !== undefined) {
    const vcpu = copyOf(def.vcpu ?? { count: 1 });
    // libvirt leaves `current` out when every vCPU is online.
    if (edit.vcpus === vcpu.count) delete vcpu.current;
    else vcpu.current = edit.vcpus;
    out.vcpu = vcpu;
  }
  return out;
}

export interface FormatOptions {
  /** Running id to write, or -1 for none. */
  id: number;
  /** The next-boot form (libvirt's `VIR_DOMAIN_XML_INACTIVE`). */
  inactive: boolean;
  /** Keep passwords (`VIR_DOMAIN_XML_SECURE`). */
  secure: boolean;
  /** The form for another libvirt (`VIR_DOMAIN_XML_MIGRATABLE`); default false. */
  migratable?: boolean;
}

/** The definition as libvirt's test driver writes it. */
export function formatDefinition(def: DomainDef, options: FormatOptions): string {
  return viewOf(def, options).toXML({
    inactive: options.inactive,
    migratable: options.migratable === true,
    hideSecrets: !options.secure,
    check: false,
  });
}

/** The `<domain>` element, for documents that embed it (snapshots). */
export function definitionElement(def: DomainDef, options: FormatOptions): XmlElement {
  return viewOf(def, options).toElement({
    inactive: options.inactive,
    hideSecrets: !options.secure,
    check: false,
  });
}

/**
 * A deep, independent copy, for callers outside the driver. Not a trip
 * through XML: parsing again would apply the model's defaults on top of the
 * test driver's (a qxl card's video memory, say) and change the document.
 */
export function detachedCopy(def: DomainDef): DomainDef {
  return deepCopy(def);
}

function deepCopy<T>(value: T): T {
  if (Array.isArray(value)) return value.map(deepCopy) as T;
  if (value === null || typeof value !== 'object') return value;
  const out = Object.create(Object.getPrototypeOf(value) as object) as Record<string, unknown>;
  for (const [k, v] of Object.entries(value)) out[k] = deepCopy(v);
  const unknown = unknownContent(value);
  if (unknown) {
    setUnknownContent(out, {
      attrs: unknown.attrs.map((a) => ({ ...a })),
      nodes: unknown.nodes.map((n) => ({ after: n.after, node: cloneNode(n.node) })),
    });
  }
  return out as T;
}

/** `def` as it should be written: with the running id (secrets are the formatter's `hideSecrets`). */
function viewOf(def: DomainDef, options: FormatOptions): DomainDef {
  const wantsId = options.id >= 0 && !options.inactive;
  if (!wantsId && def.id === undefined) return def;
  const view = copyOf(def);
  if (wantsId) view.id = options.id;
  else delete view.id;
  return view;
}

/** A shallow copy that keeps the unknown XML kept on the object (and its class). */
function copyOf<T extends object>(value: T): T {
  const out = Object.assign(Object.create(Object.getPrototypeOf(value) as object) as T, value);
  setUnknownContent(out, unknownContent(value));
  return out;
}
