/**
 * `<domain>`: a guest definition, typed, with libvirt's normalisations
 * applied on parse and nothing lost on the way back.
 *
 * `DomainDef.fromXML(x).toXML()` gives what libvirt would format for `x`
 * (its element order, the defaults it fills in, sizes in KiB) and in
 * addition keeps every element and attribute the model does not know,
 * in place, unless `{ preserveUnknown: false }` is asked for.
 *
 * @module
 */
import { VirError } from '../../errors.js';
import { parseXml } from '../../xml/parse.js';
import { serializeXml } from '../../xml/serialize.js';
import { cloneNode, type XmlElement, type XmlNode } from '../../xml/tree.js';
import { assignParsed } from '../binding.js';
import { checkDomain } from './checks.js';
import type { LifecycleAction } from './clock.js';
import { type DomainDefData, type DomainType, domainMapper } from './domain-spec.js';
import { leaveOutForMigration, leaveOutSecrets } from './leave-out.js';
import { type NormalizeOptions, normalizeDomain } from './normalize.js';

export {
  DOMAIN_TYPES,
  type DomainDefData,
  type DomainType,
  domainMapper,
  domainSpec,
  type LaunchSecurity,
} from './domain-spec.js';

const SINGLETONS = [
  'name',
  'uuid',
  'genid',
  'title',
  'description',
  'metadata',
  'maxMemory',
  'memory',
  'currentMemory',
  'vcpu',
  'os',
  'features',
  'cpu',
  'clock',
  'on_poweroff',
  'on_reboot',
  'on_crash',
  'devices',
  'cputune',
  'numatune',
];

/** What `new DomainDef(...)` takes: a name, plus any other field. */
export type DomainDefInit = Partial<DomainDefData> & {
  /** The domain name: the one field a new definition must have. */
  name: string;
};

/** How `DomainDef.fromXML` reads: the normalisation inputs, and whether unknown XML is kept. */
export interface ParseDomainOptions extends NormalizeOptions {
  /** Keep XML the model does not know and write it back in place. Default true. */
  preserveUnknown?: boolean;
}

/** How `DomainDef.toXML` formats. */
export interface FormatDomainOptions {
  /** Format as an inactive (persistent) definition: no runtime-only values. Default false. */
  inactive?: boolean;
  /** Write unknown XML kept from parsing. Default true. */
  preserveUnknown?: boolean;
  /** Run the parse-time checks first, so an edit cannot produce a document libvirt refuses. Default true. */
  check?: boolean;
  /**
   * The form another libvirt takes in a migration (`VIR_DOMAIN_XML_MIGRATABLE`):
   * what every driver's formatter leaves out for older libvirt versions (the
   * PS/2 and Xen keyboards, which those versions add themselves). A driver's own
   * rules (the QEMU driver's default controllers) are the driver's. Default false.
   */
  migratable?: boolean;
  /**
   * Leave out the secrets, as libvirt formats without `VIR_DOMAIN_XML_SECURE`:
   * a display's `passwd` and a network disk's HTTP `<cookies>`. Default false
   * (the model is the caller's own, secrets included).
   */
  hideSecrets?: boolean;
}

export interface DomainDef extends DomainDefData {}

/** A domain definition (`<domain>`). */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface carries the mapped fields
export class DomainDef {
  constructor(init: DomainDefInit) {
    Object.assign(this, { type: 'kvm' satisfies DomainType }, init);
  }

  /**
   * Parses domain XML and applies libvirt's parse-time defaults and checks.
   * Throws `XML_ERROR` for malformed XML and `XML_DETAIL` /
   * `CONFIG_UNSUPPORTED` for a definition libvirt would refuse, with the
   * line and field at fault. Nothing partial is ever returned.
   */
  static fromXML(xml: string, options: ParseDomainOptions = {}): DomainDef {
    return DomainDef.fromElement(parseXml(xml), options);
  }

  /** Reads an element already parsed (by `parseXml` or as part of a larger document). */
  static fromElement(el: XmlElement, options: ParseDomainOptions = {}): DomainDef {
    if (el.name !== 'domain') {
      throw new VirError('XML_ERROR', 'conf', `expected root element <domain>, found <${el.name}>`, {
        field: '/',
        ...(el.line !== undefined ? { line: el.line } : {}),
      });
    }
    checkSingletons(el);
    if (!el.attrs.some((a) => a.name === 'type')) {
      throw new VirError('XML_DETAIL', 'conf', 'missing domain type attribute', {
        field: '/domain/@type',
        ...(el.line !== undefined ? { line: el.line } : {}),
      });
    }
    const data = domainMapper.read(el, '/domain');
    const def = new DomainDef({ name: data.name });
    assignParsed(def, data);
    if (options.preserveUnknown === false) stripUnknown(def);
    try {
      normalizeDomain(def, options);
      checkDomain(def);
    } catch (err) {
      throw withLine(err, el);
    }
    return def;
  }

  /** Applies libvirt's defaults to a definition built in code, then checks it. */
  normalize(options: NormalizeOptions = {}): this {
    normalizeDomain(this, options);
    checkDomain(this);
    return this;
  }

  /** Runs the parse-time checks on this definition (throws `XML_DETAIL` / `CONFIG_UNSUPPORTED`). */
  check(): this {
    checkDomain(this);
    return this;
  }

  /** The model as an XML tree, as `toXML` would write it, for embedding in a larger document. */
  toElement(options: FormatDomainOptions = {}): XmlElement {
    if (options.check !== false) checkDomain(this);
    const source = options.preserveUnknown === false ? withoutUnknown(this) : this;
    let el = domainMapper.write(source);
    // The written tree shares the elements the model keeps verbatim (unknown XML,
    // raw children): edit a copy, so formatting never changes the definition.
    if (options.inactive || options.migratable || options.hideSecrets) el = cloneNode(el);
    if (options.inactive) makeInactive(el);
    if (options.migratable) leaveOutForMigration(el);
    if (options.hideSecrets) leaveOutSecrets(el);
    // libvirt always writes <devices> with an end tag, even when it is empty.
    for (const c of el.children)
      if (c.type === 'element' && c.name === 'devices' && c.children.length === 0)
        c.children.push({ type: 'text', value: '\n  ' });
    return el;
  }

  /** Formats the definition the way libvirt does (`virsh dumpxml`). */
  toXML(options: FormatDomainOptions = {}): string {
    return serializeXml(this.toElement(options));
  }
}

/**
 * Rules checked on the typed model know the field at fault but not its
 * line; the parsed tree does, so look the field up there.
 */
function withLine(err: unknown, root: XmlElement): unknown {
  if (!(err instanceof VirError) || err.line !== undefined || err.field === undefined) return err;
  const at = elementAt(root, err.field);
  if (at?.line === undefined) return err;
  return new VirError(err.code, err.domain, `${err.message} (line ${at.line})`, {
    field: err.field,
    line: at.line,
    ...(at.column !== undefined ? { column: at.column } : {}),
    cause: err,
  });
}

/** The deepest element a `/domain/devices/disk[3]/target/@dev` path reaches. */
function elementAt(root: XmlElement, path: string): XmlElement | undefined {
  const steps = path.split('/').filter((p) => p !== '');
  if (steps[0] !== root.name) return undefined;
  let cur = root;
  for (const step of steps.slice(1)) {
    const m = /^([^[@(]+)(?:\[(\d+)\])?$/.exec(step);
    if (!m?.[1]) break;
    const name = m[1];
    const index = m[2] === undefined ? 1 : Number(m[2]);
    let seen = 0;
    let next: XmlElement | undefined;
    for (const c of cur.children)
      if (c.type === 'element' && c.name === name && ++seen === index) {
        next = c;
        break;
      }
    if (!next) break;
    cur = next;
  }
  return cur;
}

function checkSingletons(el: XmlElement): void {
  const seen = new Map<string, XmlElement>();
  for (const c of el.children) {
    if (c.type !== 'element' || !SINGLETONS.includes(c.name)) continue;
    if (seen.has(c.name)) {
      throw new VirError(
        'XML_DETAIL',
        'conf',
        `element <${c.name}> given more than once (line ${c.line ?? '?'})`,
        {
          field: `/domain/${c.name}`,
          ...(c.line !== undefined ? { line: c.line } : {}),
        },
      );
    }
    seen.set(c.name, c);
  }
}

/** A copy without any unknown XML (structuredClone drops the hidden key). */
function withoutUnknown(def: DomainDef): DomainDefData {
  return structuredClone({ ...def }) as DomainDefData;
}

function stripUnknown(def: DomainDef): void {
  const clean = withoutUnknown(def);
  for (const k of Object.keys(def)) delete (def as unknown as Record<string, unknown>)[k];
  assignParsed(def, clean);
  // assignParsed copies the hidden key of `clean`, which has none.
}

const CHARDEVS = ['serial', 'parallel', 'console', 'channel'];

/** Drops what only a running domain has, as libvirt's inactive format does. */
function makeInactive(root: XmlElement): void {
  root.attrs = root.attrs.filter((a) => a.name !== 'id');
  const walk = (el: XmlElement) => {
    if (el.name === 'cachetune' || el.name === 'memorytune')
      el.attrs = el.attrs.filter((a) => a.name !== 'id');
    // An automatically allocated port means nothing once the guest stops: VNC's is
    // written as -1, SPICE's not at all (the next start picks them), as libvirt
    // stores them. RDP's stays as written: libvirt formats an automatic RDP port as 0 either way.
    const graphicsType = el.attrs.find((a) => a.name === 'type')?.value;
    if (
      el.name === 'graphics' &&
      el.attrs.some((a) => a.name === 'autoport' && a.value === 'yes') &&
      graphicsType !== 'rdp'
    ) {
      if (graphicsType === 'spice')
        el.attrs = el.attrs.filter((a) => a.name !== 'port' && a.name !== 'tlsPort');
      else for (const a of el.attrs) if (a.name === 'port' || a.name === 'tlsPort') a.value = '-1';
    }
    // A block job's <mirror> and the indexes of a backing chain are runtime state.
    if (el.name === 'disk') {
      el.children = (el.children as XmlNode[]).filter((c) => !(c.type === 'element' && c.name === 'mirror'));
      for (const c of el.children as XmlNode[])
        if (c.type === 'element' && c.name === 'source') c.attrs = c.attrs.filter((a) => a.name !== 'index');
    }
    // The port a virtual network made for a running guest is gone once it stops.
    if (el.name === 'interface' && el.attrs.some((a) => a.name === 'type' && a.value === 'network'))
      for (const c of el.children as XmlNode[])
        if (c.type === 'element' && c.name === 'source') c.attrs = c.attrs.filter((a) => a.name !== 'portid');
    if (el.name === 'backingStore') el.attrs = el.attrs.filter((a) => a.name !== 'index');
    // The pseudo-terminal QEMU opened for a pty character device is this run's.
    if (CHARDEVS.includes(el.name) && el.attrs.some((a) => a.name === 'type' && a.value === 'pty')) {
      el.attrs = el.attrs.filter((a) => a.name !== 'tty');
      el.children = (el.children as XmlNode[]).filter((c) => {
        if (c.type !== 'element' || c.name !== 'source') return true;
        c.attrs = c.attrs.filter((a) => a.name !== 'path');
        return c.attrs.length > 0 || c.children.some((n) => n.type === 'element');
      });
    }
    // Whether a guest agent is connected to a virtio channel is live state.
    if (el.name === 'channel')
      for (const c of el.children as XmlNode[])
        if (
          c.type === 'element' &&
          c.name === 'target' &&
          c.attrs.some((a) => a.name === 'type' && a.value === 'virtio')
        )
          c.attrs = c.attrs.filter((a) => a.name !== 'state');
    for (const c of el.children as XmlNode[]) if (c.type === 'element') walk(c);
  };
  walk(root);
}

export type { LifecycleAction };
