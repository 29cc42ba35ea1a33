/**
 * Domain XML as libvirt's test driver reads it: libvirt's checks first,
 * with the error code libvirt reports for each (harness code branches on
 * them), then the typed {@link DomainDef} with its normalisation, then the
 * test driver's own defaults (`test-defaults.ts`).
 *
 * The checks here are the ones where the shared model would answer with
 * another code than libvirt's test driver (the model says `XML_DETAIL` for
 * most refusals); everything else is left to `DomainDef`.
 *
 * @module
 */
import {
  LIFECYCLE_ACTIONS as DOMAIN_LIFECYCLE_ACTIONS,
  type LifecycleAction,
} from '../../conf/domain/clock.js';
import {
  DomainDef,
  type DomainType,
  DOMAIN_TYPES as KNOWN_DOMAIN_TYPES,
} from '../../conf/domain/domain-def.js';
import { toKiB } from '../../conf/units.js';
import { VirError } from '../../errors.js';
import { parseXml } from '../../xml/parse.js';
import { childElements, firstChild, getAttr, text, textContent, type XmlElement } from '../../xml/tree.js';
import { applyTestDefaults, type SourceFacts, TEST_GUEST_ARCH } from './test-defaults.js';

/** What `<on_poweroff>`, `<on_reboot>` and `<on_crash>` may ask for (the domain model's list). */
const LIFECYCLE_ACTIONS: ReadonlySet<string> = new Set<LifecycleAction>(DOMAIN_LIFECYCLE_ACTIONS);

/** Hypervisor types libvirt's domain parser knows (the test driver accepts any of them). */
const DOMAIN_TYPES: ReadonlySet<string> = new Set<DomainType>(KNOWN_DOMAIN_TYPES);

/** Namespace of libvirt's test-driver extensions inside `<domain>` of a node config file. */
export const TEST_DRIVER_NS = 'http://libvirt.org/schemas/domain/test/1.0';

/** libvirt's test-driver extensions a node config file may put in a `<domain>`. */
export interface TestDomainExtras {
  /** `<test:runstate>`: a `virDomainState` number. */
  runstate?: number;
  /** `<test:transient/>`. */
  transient: boolean;
  /** `<test:hasmanagedsave/>`. */
  hasManagedSave: boolean;
}

export interface ParseTestDomainOptions {
  /** Makes a UUID when the definition has none. */
  newUuid: () => string;
}

/**
 * Parses domain XML (a string or an already parsed `<domain>`) into a
 * normalised `DomainDef`. Test-namespace elements are not part of the
 * definition: read them with {@link readTestExtras}.
 */
export function parseTestDomain(input: string | XmlElement, options: ParseTestDomainOptions): DomainDef {
  const given = typeof input === 'string' ? parseDomainXml(input) : input;
  const root = checkDomainElement(withoutTestExtensions(given));
  const def = DomainDef.fromElement(root, { defaultArch: TEST_GUEST_ARCH, generateUuid: options.newUuid });
  applyTestDefaults(def, sourceFacts(root));
  return def;
}

function sourceFacts(root: XmlElement): SourceFacts {
  const devices = firstChild(root, 'devices');
  const videos = devices ? childElements(devices, 'video') : [];
  return {
    videoVgamemGiven: videos.map((v) => {
      const model = firstChild(v, 'model');
      return model !== undefined && getAttr(model, 'vgamem') !== undefined;
    }),
  };
}

/**
 * libvirt's checks, in its order: returns the root with the UUID in
 * canonical form (libvirt accepts dashes anywhere; the model only the two
 * usual spellings), on a copy when it changes.
 */
function checkDomainElement(root: XmlElement): XmlElement {
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
  const uuid = uuidEl ? parseUuid(textContent(uuidEl)) : undefined;
  if (uuidEl && uuid === undefined) {
    throw new VirError('INTERNAL_ERROR', 'domain', 'malformed uuid element', lineOf(uuidEl, '/domain/uuid'));
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
  scaledKiB(root, 'currentMemory');
  checkVcpu(firstChild(root, 'vcpu'));
  for (const name of ['on_poweroff', 'on_reboot', 'on_crash']) checkLifecycleAction(root, name);

  if (!uuidEl || uuid === undefined) return root;
  return {
    ...root,
    children: root.children.map((c) => (c === uuidEl ? { ...uuidEl, children: [text(uuid)] } : c)),
  };
}

function checkVcpu(vcpuEl: XmlElement | undefined): void {
  if (!vcpuEl) return;
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
  const cur = getAttr(vcpuEl, 'current');
  if (cur === undefined) return;
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
}

/** Reads the test-driver extension elements (`test:runstate` & co.) of a `<domain>`. */
export function readTestExtras(root: XmlElement): TestDomainExtras {
  const prefixes = testPrefixes(root);
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

function testPrefixes(root: XmlElement): Set<string> {
  const prefixes = new Set<string>();
  for (const a of root.attrs) {
    if (a.name.startsWith('xmlns:') && a.value === TEST_DRIVER_NS) prefixes.add(a.name.slice(6));
  }
  return prefixes;
}

/** Test-driver extensions configure the fake host, not the guest: they stay out of the definition. */
function withoutTestExtensions(root: XmlElement): XmlElement {
  const prefixes = testPrefixes(root);
  if (prefixes.size === 0) return root;
  return {
    ...root,
    attrs: root.attrs.filter((a) => !(a.name.startsWith('xmlns:') && a.value === TEST_DRIVER_NS)),
    children: root.children.filter((c) => {
      if (c.type !== 'element') return true;
      const i = c.name.indexOf(':');
      return i < 0 || !prefixes.has(c.name.slice(0, i));
    }),
  };
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

/** A size element in KiB, refused with libvirt's codes (bad number, unknown unit, too large). */
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

function checkLifecycleAction(root: XmlElement, name: string): void {
  const el = firstChild(root, name);
  if (!el) return;
  const v = textContent(el).trim();
  if (!LIFECYCLE_ACTIONS.has(v)) {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'domain',
      `unknown ${name} action: ${v}`,
      lineOf(el, `/domain/${name}`),
    );
  }
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
