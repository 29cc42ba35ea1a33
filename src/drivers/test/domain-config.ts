/**
 * The few facts of a domain definition the test driver acts on, read from
 * domain XML with the same checks (and error codes) libvirt's test driver
 * applies when it parses a definition.
 *
 * This module is the one place the test driver looks inside domain XML: when
 * the typed `DomainDef` lands, this file is swapped for it and nothing else
 * in the driver changes. The original document is kept as given, so
 * `getXML` returns what the caller wrote, with the facts the driver changes
 * (id, memory, vCPUs, a generated UUID) written into it.
 *
 * @module
 */
import {
  LIFECYCLE_ACTIONS as DOMAIN_LIFECYCLE_ACTIONS,
  type LifecycleAction,
} from '../../conf/domain/clock.js';
import { type DomainType, DOMAIN_TYPES as KNOWN_DOMAIN_TYPES } from '../../conf/domain/domain-def.js';
import { toKiB } from '../../conf/units.js';
import { VirError } from '../../errors.js';
import { parseXml } from '../../xml/parse.js';
import { serializeXml } from '../../xml/serialize.js';
import {
  childElements,
  element,
  firstChild,
  getAttr,
  setAttr,
  text,
  textContent,
  type XmlElement,
  type XmlNode,
} from '../../xml/tree.js';

/** What `<on_poweroff>`, `<on_reboot>` and `<on_crash>` may ask for (the domain model's list). */
const LIFECYCLE_ACTIONS: ReadonlySet<string> = new Set<LifecycleAction>(DOMAIN_LIFECYCLE_ACTIONS);

/** Hypervisor types libvirt's domain parser knows (the test driver accepts any of them). */
const DOMAIN_TYPES: ReadonlySet<string> = new Set<DomainType>(KNOWN_DOMAIN_TYPES);

/** Namespace of libvirt's test-driver extensions inside `<domain>` of a node config file. */
export const TEST_DRIVER_NS = 'http://libvirt.org/schemas/domain/test/1.0';

/** A parsed definition: facts plus the source it came from. */
export interface DomainConfig {
  readonly name: string;
  /** Canonical UUID; generated when the XML had none (`uuidGenerated`). */
  readonly uuid: string;
  readonly uuidGenerated: boolean;
  /** `<domain type=...>`. */
  readonly type: string;
  /** `<memory>`, KiB. */
  readonly maxMemKiB: number;
  /** `<currentMemory>` (capped at `maxMemKiB`), KiB. */
  readonly memoryKiB: number;
  /** `<vcpu>`: the maximum. */
  readonly maxVcpus: number;
  /** `<vcpu current=...>`, or the maximum. */
  readonly vcpus: number;
  readonly osType: string;
  readonly onPoweroff: LifecycleAction;
  readonly onReboot: LifecycleAction;
  readonly onCrash: LifecycleAction;
  /** The `<domain>` element as given (never mutated; formatting works on a copy). */
  readonly source: XmlElement;
}

/** libvirt's test-driver extensions a node config file may put in a `<domain>`. */
export interface TestDomainExtras {
  /** `<test:runstate>`: a `virDomainState` number. */
  runstate?: number;
  /** `<test:transient/>`. */
  transient: boolean;
  /** `<test:hasmanagedsave/>`. */
  hasManagedSave: boolean;
}

export interface ParseDomainOptions {
  /** Makes a UUID when the definition has none. */
  newUuid: () => string;
}

/** Parses domain XML (a string or an already parsed `<domain>`). */
export function parseDomainConfig(input: string | XmlElement, options: ParseDomainOptions): DomainConfig {
  const root = typeof input === 'string' ? parseDomainXml(input) : input;
  if (root.name !== 'domain') {
    throw xmlError(`expecting root element of 'domain', not '${root.name}'`, root);
  }
  const type = getAttr(root, 'type');
  if (type === undefined) throw new VirError('INTERNAL_ERROR', 'domain', 'missing domain type attribute');
  if (!DOMAIN_TYPES.has(type)) {
    throw new VirError('CONFIG_UNSUPPORTED', 'domain', `invalid domain type ${type}`, {
      field: '/domain/@type',
    });
  }

  const nameEl = firstChild(root, 'name');
  const name = nameEl ? textContent(nameEl) : '';
  if (name === '')
    throw new VirError('NO_NAME', 'domain', 'missing name information', { field: '/domain/name' });
  if (name.includes('/')) throw xmlError(`name ${name} cannot contain '/'`, nameEl);

  const uuidEl = firstChild(root, 'uuid');
  let uuid: string;
  let uuidGenerated = false;
  if (uuidEl) {
    const parsed = parseUuid(textContent(uuidEl));
    if (parsed === undefined) {
      throw new VirError(
        'INTERNAL_ERROR',
        'domain',
        'malformed uuid element',
        lineOf(uuidEl, '/domain/uuid'),
      );
    }
    uuid = parsed;
  } else {
    uuid = options.newUuid();
    uuidGenerated = true;
  }

  const osEl = firstChild(root, 'os');
  const osTypeEl = osEl ? firstChild(osEl, 'type') : undefined;
  const osType = osTypeEl ? textContent(osTypeEl).trim() : '';
  if (osType === '') throw xmlError('an os <type> must be specified', osEl ?? root);
  if (osType === 'exe') throw xmlError('init binary must be specified', osTypeEl);

  const maxMemKiB = scaledKiB(root, 'memory');
  if (maxMemKiB === undefined || maxMemKiB === 0) {
    throw xmlError('Memory size must be specified via <memory>', firstChild(root, 'memory') ?? root);
  }
  const current = scaledKiB(root, 'currentMemory');
  const memoryKiB = current === undefined || current === 0 || current > maxMemKiB ? maxMemKiB : current;

  const vcpuEl = firstChild(root, 'vcpu');
  let maxVcpus = 1;
  let vcpus = 1;
  if (vcpuEl) {
    const max = parseCount(textContent(vcpuEl));
    if (max === undefined) throw xmlError('maximum vcpus count must be an integer', vcpuEl);
    if (max === 0) {
      // libvirt reports this through its NUMA consistency check, as an internal error.
      throw new VirError(
        'INTERNAL_ERROR',
        'domain',
        'vcpu count must be at least 1',
        lineOf(vcpuEl, '/domain/vcpu'),
      );
    }
    maxVcpus = max;
    vcpus = max;
    const cur = getAttr(vcpuEl, 'current');
    if (cur !== undefined) {
      const n = parseCount(cur);
      if (n === undefined) throw xmlError('current vcpus count must be an integer', vcpuEl);
      if (n > max) {
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'domain',
          'maximum vCPU count must not be less than current vCPU count',
          lineOf(vcpuEl, '/domain/vcpu/@current'),
        );
      }
      if (n > 0) vcpus = n;
    }
  }

  return {
    name,
    uuid,
    uuidGenerated,
    type,
    maxMemKiB,
    memoryKiB,
    maxVcpus,
    vcpus,
    osType,
    onPoweroff: lifecycleAction(root, 'on_poweroff', 'destroy'),
    onReboot: lifecycleAction(root, 'on_reboot', 'restart'),
    onCrash: lifecycleAction(root, 'on_crash', 'destroy'),
    source: root,
  };
}

/** Reads the test-driver extension elements (`test:runstate` & co.) of a `<domain>`. */
export function readTestExtras(root: XmlElement): TestDomainExtras {
  const prefixes = new Set<string>();
  for (const a of root.attrs) {
    if (a.name.startsWith('xmlns:') && a.value === TEST_DRIVER_NS) prefixes.add(a.name.slice(6));
  }
  const extras: TestDomainExtras = { transient: false, hasManagedSave: false };
  for (const el of childElements(root)) {
    const i = el.name.indexOf(':');
    if (i < 0 || !prefixes.has(el.name.slice(0, i))) continue;
    const local = el.name.slice(i + 1);
    if (local === 'runstate') {
      const n = parseCount(textContent(el));
      if (n === undefined || n > 7) throw xmlError(`invalid runstate '${textContent(el)}'`, el);
      extras.runstate = n;
    } else if (local === 'transient') {
      extras.transient = true;
    } else if (local === 'hasmanagedsave') {
      extras.hasManagedSave = true;
    }
  }
  return extras;
}

/** What the live domain looks like now, for formatting. */
export interface LiveFacts {
  /** Running id, or -1. */
  id: number;
  memoryKiB: number;
  maxMemKiB: number;
  vcpus: number;
  maxVcpus: number;
}

export interface FormatOptions {
  /** Keep passwords and other secrets (`VIR_DOMAIN_XML_SECURE`). */
  secure: boolean;
}

/**
 * The definition as XML: the caller's document with the id, name, UUID,
 * memory and vCPU facts set to the current values, the defaults libvirt's
 * parser adds for omitted top-level elements (in libvirt's element order),
 * and secrets removed unless `secure`. Device-level defaults are not added.
 */
export function formatDomainXml(cfg: DomainConfig, live: LiveFacts, options: FormatOptions): string {
  const root = shallowCopy(cfg.source);
  setAttr(root, 'id', undefined);
  if (live.id >= 0) {
    // libvirt writes the id right after the type.
    const typeAt = root.attrs.findIndex((a) => a.name === 'type');
    root.attrs.splice(typeAt + 1, 0, { name: 'id', value: String(live.id) });
  }
  // Test-driver extensions are configuration of the fake host, not of the guest.
  root.attrs = root.attrs.filter((a) => !(a.name.startsWith('xmlns:') && a.value === TEST_DRIVER_NS));
  const testPrefixes = new Set(
    cfg.source.attrs.filter((a) => a.value === TEST_DRIVER_NS).map((a) => `${a.name.slice(6)}:`),
  );
  root.children = root.children.filter(
    (c) => !(c.type === 'element' && [...testPrefixes].some((p) => c.name.startsWith(p))),
  );

  setText(root, 'name', cfg.name);
  setText(root, 'uuid', cfg.uuid);
  setAttr(setText(root, 'memory', String(live.maxMemKiB)), 'unit', 'KiB');
  setAttr(setText(root, 'currentMemory', String(live.memoryKiB)), 'unit', 'KiB');
  const vcpu = setText(root, 'vcpu', String(live.maxVcpus));
  if (getAttr(vcpu, 'placement') === undefined) vcpu.attrs.unshift({ name: 'placement', value: 'static' });
  setAttr(vcpu, 'current', live.vcpus === live.maxVcpus ? undefined : String(live.vcpus));
  addDefaults(root, cfg);
  if (!options.secure) stripSecrets(root);
  return serializeXml(root);
}

/**
 * Top-level elements of `<domain>` in the order libvirt writes them; an
 * element this driver adds goes after the last present one that comes
 * before it.
 */
const DOMAIN_ORDER = [
  'name',
  'uuid',
  'genid',
  'title',
  'description',
  'metadata',
  'maxMemory',
  'memory',
  'currentMemory',
  'blkiotune',
  'memtune',
  'memoryBacking',
  'vcpu',
  'vcpus',
  'iothreads',
  'iothreadids',
  'cputune',
  'numatune',
  'resource',
  'sysinfo',
  'bootloader',
  'bootloader_args',
  'os',
  'idmap',
  'features',
  'cpu',
  'clock',
  'on_poweroff',
  'on_reboot',
  'on_crash',
  'on_lockfailure',
  'pm',
  'perf',
  'devices',
];

/** `<os>` children libvirt writes before `<boot>`. */
const BEFORE_BOOT: ReadonlySet<string> = new Set([
  'type',
  'firmware',
  'loader',
  'nvram',
  'kernel',
  'initrd',
  'cmdline',
  'dtb',
  'acpi',
]);

/** What libvirt's parser fills in for an omitted element, so `getXML` shows the same document. */
function addDefaults(root: XmlElement, cfg: DomainConfig): void {
  const os = firstChild(root, 'os');
  if (os) {
    const i = os.children.findIndex((c) => c.type === 'element' && c.name === 'type');
    const type = os.children[i];
    if (type?.type === 'element' && getAttr(type, 'arch') === undefined) {
      // the fake host has one guest architecture for every OS type
      os.children[i] = { ...type, attrs: [{ name: 'arch', value: 'i686' }, ...type.attrs] };
    }
    if (cfg.osType === 'hvm' && !firstChild(os, 'boot')) {
      let at = i + 1;
      os.children.forEach((c, k) => {
        if (c.type === 'element' && BEFORE_BOOT.has(c.name)) at = Math.max(at, k + 1);
      });
      os.children.splice(at, 0, element('boot', [{ name: 'dev', value: 'hd' }]));
    }
  }
  if (!firstChild(root, 'clock')) insertOrdered(root, element('clock', [{ name: 'offset', value: 'utc' }]));
  insertOrdered(root, element('on_poweroff', [], [text(cfg.onPoweroff)]), true);
  insertOrdered(root, element('on_reboot', [], [text(cfg.onReboot)]), true);
  insertOrdered(root, element('on_crash', [], [text(cfg.onCrash)]), true);
  const devices = firstChild(root, 'devices');
  // libvirt writes an empty <devices> open and closed on two lines, not self-closed
  if (!devices) insertOrdered(root, element('devices', [], [text('\n  ')]));
  else if (devices.children.length === 0) devices.children = [text('\n  ')];
  sortTopLevel(root);
}

/**
 * Puts the top-level elements libvirt knows into its order, as its
 * formatter does; anything else (extension elements, comments) moves with
 * the known element it follows.
 */
function sortTopLevel(root: XmlElement): void {
  const chunks: { rank: number; nodes: XmlNode[] }[] = [{ rank: -1, nodes: [] }];
  for (const c of root.children) {
    const rank = c.type === 'element' ? DOMAIN_ORDER.indexOf(c.name) : -1;
    if (rank >= 0) chunks.push({ rank, nodes: [c] });
    else chunks[chunks.length - 1]?.nodes.push(c);
  }
  const [lead, ...rest] = chunks;
  rest.sort((a, b) => a.rank - b.rank);
  root.children = [...(lead?.nodes ?? []), ...rest.flatMap((c) => c.nodes)];
}

/** Inserts `el` at its place in libvirt's order (unless `onlyIfMissing` and one exists). */
function insertOrdered(root: XmlElement, el: XmlElement, onlyIfMissing = false): void {
  if (onlyIfMissing && firstChild(root, el.name)) return;
  const rank = DOMAIN_ORDER.indexOf(el.name);
  let at = 0;
  for (let i = 0; i < root.children.length; i++) {
    const c = root.children[i];
    if (c?.type !== 'element') continue;
    const r = DOMAIN_ORDER.indexOf(c.name);
    if (r >= 0 && r < rank) at = i + 1;
  }
  root.children.splice(at, 0, el);
}

function parseDomainXml(xml: string): XmlElement {
  try {
    return parseXml(xml);
  } catch (err) {
    if (err instanceof VirError && err.code === 'XML_ERROR' && err.line !== undefined) {
      // libvirt reports a document that does not parse as XML_DETAIL, with the position.
      throw new VirError('XML_DETAIL', 'domain', err.message, {
        line: err.line,
        ...(err.column !== undefined ? { column: err.column } : {}),
        cause: err,
      });
    }
    throw err;
  }
}

const UUID_HEX = /^[0-9a-f]{32}$/i;

/** libvirt accepts UUIDs with or without dashes, in either case, surrounded by blanks. */
export function parseUuid(value: string): string | undefined {
  const hex = value.trim().replace(/-/g, '');
  if (!UUID_HEX.test(hex)) return undefined;
  const h = hex.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function parseCount(value: string): number | undefined {
  const v = value.trim();
  if (!/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

function scaledKiB(root: XmlElement, name: string): number | undefined {
  const el = firstChild(root, name);
  if (!el) return undefined;
  const raw = textContent(el).trim();
  if (!/^\d+$/.test(raw))
    throw xmlError(`Invalid value '${raw}' for element or attribute './${name}[1]'`, el);
  const unit = getAttr(el, 'unit') ?? 'KiB';
  let kib: bigint;
  try {
    kib = toKiB(BigInt(raw), unit);
  } catch (err) {
    throw new VirError('INVALID_ARG', 'domain', `unknown suffix '${unit}'`, {
      ...lineOf(el, `/domain/${name}/@unit`),
      cause: err,
    });
  }
  if (kib > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new VirError(
      'OVERFLOW',
      'domain',
      `size ${raw} ${unit} is too large`,
      lineOf(el, `/domain/${name}`),
    );
  }
  return Number(kib);
}

function lifecycleAction(root: XmlElement, name: string, fallback: LifecycleAction): LifecycleAction {
  const el = firstChild(root, name);
  if (!el) return fallback;
  const v = textContent(el).trim();
  if (!LIFECYCLE_ACTIONS.has(v)) {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'domain',
      `unknown ${name} action: ${v}`,
      lineOf(el, `/domain/${name}`),
    );
  }
  return v as LifecycleAction;
}

function xmlError(message: string, at: XmlElement | undefined): VirError {
  return new VirError('XML_ERROR', 'domain', message, at ? lineOf(at) : {});
}

function lineOf(el: XmlElement, field?: string): { line?: number; column?: number; field?: string } {
  const out: { line?: number; column?: number; field?: string } = {};
  if (el.line !== undefined) out.line = el.line;
  if (el.column !== undefined) out.column = el.column;
  if (field !== undefined) out.field = field;
  return out;
}

/** Copies the root and the direct children the formatter may change; deeper nodes are shared. */
function shallowCopy(el: XmlElement): XmlElement {
  return {
    type: 'element',
    name: el.name,
    attrs: el.attrs.map((a) => ({ ...a })),
    children: el.children.map(
      (c): XmlNode =>
        c.type === 'element' ? { ...c, attrs: c.attrs.map((a) => ({ ...a })), children: [...c.children] } : c,
    ),
  };
}

/** Sets the text of child `name`, adding the element at its place in libvirt's order when missing. */
function setText(root: XmlElement, name: string, value: string): XmlElement {
  let el = firstChild(root, name);
  if (!el) {
    el = element(name);
    insertOrdered(root, el);
  }
  el.children = [text(value)];
  return el;
}

/** Drops what libvirt only shows with `VIR_DOMAIN_XML_SECURE`: graphics passwords. */
function stripSecrets(root: XmlElement): void {
  const devices = firstChild(root, 'devices');
  if (!devices) return;
  devices.children = devices.children.map((c) => {
    if (c.type !== 'element' || c.name !== 'graphics' || getAttr(c, 'passwd') === undefined) return c;
    return { ...c, attrs: c.attrs.filter((a) => a.name !== 'passwd') };
  });
}
