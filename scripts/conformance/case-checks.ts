/**
 * The shape every family's `cases.json` entries must have, checked by the
 * runner before a family's results are believed (the data README says what
 * each field means). A case that breaks it (an unknown `kind`, `expect` or
 * `family`, a field of the wrong type, a file that is not there) fails with
 * the path at fault, whatever the family module made of it, so bad data can
 * never pass a case, and a family module never has to be trusted to notice.
 *
 * Paths in a `cases.json` are relative to the directory that holds it.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

type Entry = Record<string, unknown>;
/** Checks one field; returns what is wrong with it. `dir` is the folder of the cases.json. */
type Check = (value: unknown, dir: string) => string | undefined;
type Fields = Record<string, Check>;

const str: Check = (v) => (typeof v === 'string' && v !== '' ? undefined : 'must be a non-empty string');
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : 'must be true or false');
const oneOf =
  (...values: string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v)
      ? undefined
      : `unknown value ${JSON.stringify(v)} (known: ${values.join(', ')})`;
const optional =
  (check: Check): Check =>
  (v, dir) =>
    v === undefined ? undefined : check(v, dir);
const nullable =
  (check: Check): Check =>
  (v, dir) =>
    v === null ? undefined : check(v, dir);
const absent: Check = (v) => (v === undefined ? undefined : 'must be absent for this case');
const listOf =
  (check: Check, min = 0): Check =>
  (v, dir) => {
    if (!Array.isArray(v)) return 'must be a list';
    if (v.length < min) return `must list at least ${min}`;
    for (const [i, x] of v.entries()) {
      const p = check(x, dir);
      if (p) return `[${i}] ${p}`;
    }
    return undefined;
  };
const file: Check = (v, dir) => {
  const p = str(v, dir);
  if (p) return p;
  const path = join(dir, v as string);
  return existsSync(path) && statSync(path).isFile() ? undefined : `names a missing file ${v as string}`;
};
const folder: Check = (v, dir) => {
  const p = str(v, dir);
  if (p) return p;
  const path = join(dir, v as string);
  return existsSync(path) && statSync(path).isDirectory()
    ? undefined
    : `names a missing folder ${v as string}`;
};
/** A cputest outcome keyword, or a file under the case folder holding the expected output. */
const outcomeOrFile =
  (...outcomes: string[]): Check =>
  (v, dir) =>
    typeof v === 'string' && outcomes.includes(v)
      ? undefined
      : typeof v === 'string' && v.startsWith('cases/')
        ? file(v, dir)
        : `unknown expectation ${JSON.stringify(v)} (known: ${[...outcomes, 'cases/<file>'].join(', ')})`;

const CPU_FLAGS = ['expand-features', 'migratable'];
const JSON_KINDS = ['none', 'host', 'models', 'models-required'];
const CPU_COMMON: Fields = { flags: listOf(oneOf(...CPU_FLAGS)), files: listOf(file, 1) };

/** cpu/cases.json, per kind (see the README's list of what libvirt asserts for each). */
const CPU_KINDS: Record<string, Fields> = {
  compare: { host: str, cpu: str, expected: oneOf('IDENTICAL', 'SUPERSET', 'INCOMPATIBLE', 'ERROR') },
  update: { host: str, cpu: str, expected: outcomeOrFile() },
  baseline: { cpu: str, expected: outcomeOrFile('ERROR') },
  guest: {
    host: str,
    cpu: str,
    models: nullable(listOf(str, 1)),
    modelsName: optional(nullable(str)),
    expected: outcomeOrFile('ERROR'),
  },
  hasfeature: { host: str, feature: str, expected: oneOf('YES', 'NO', 'FAIL') },
  'cpuid-host': { host: str, json: optional(oneOf(...JSON_KINDS)), expected: outcomeOrFile() },
  'cpuid-guest': { host: str, json: oneOf(...JSON_KINDS), expected: outcomeOrFile() },
  'cpuid-signature': { host: str, expected: outcomeOrFile() },
  'cpuid-json': { host: str, json: oneOf(...JSON_KINDS), expected: outcomeOrFile() },
  'cpuid-json-signature': { host: str, json: oneOf(...JSON_KINDS), expected: outcomeOrFile() },
  'update-live': { host: str, cpu: str, json: oneOf(...JSON_KINDS), expected: outcomeOrFile() },
  'cpuid-baseline': { cpu: listOf(str, 2), expected: outcomeOrFile() },
};

const success = (c: Entry) => c.expect === 'success';

/** The fields one entry must have, by family name (the runner's). */
const SCHEMAS: Record<string, (c: Entry) => Fields> = {
  cpu: (c) => {
    const kind = typeof c.kind === 'string' ? CPU_KINDS[c.kind] : undefined;
    if (!kind) return { kind: oneOf(...Object.keys(CPU_KINDS)) };
    return { ...CPU_COMMON, ...kind };
  },
  capabilities: () => ({ arch: str, qemuCaps: file, expected: file }),
  qemucaps: () => ({ arch: str, replies: file, expected: file }),
  domaincaps: () => ({
    qemuVersion: str,
    arch: str,
    virtType: oneOf('kvm', 'qemu'),
    machine: nullable(str),
    emulator: str,
    qemuCaps: file,
    expected: file,
  }),
  hostcaps: () => ({ arch: str, sysfs: folder, offlineMigrate: bool, liveMigrate: bool, expected: file }),
  objects: (c) => ({
    kind: oneOf('storagepool', 'storagevol', 'network', 'nodedev', 'secret'),
    expect: oneOf('success', 'parse-error'),
    input: file,
    output: success(c) ? file : optional(file),
    pool: c.kind === 'storagevol' ? file : optional(file),
    inactive: optional(bool),
    flags: optional(listOf(oneOf('opt-capacity'))),
  }),
  'domainxml/generic': (c) => ({
    family: oneOf('generic', 'qemu'),
    expect: oneOf('success', 'parse-error'),
    input: file,
    output: success(c) ? file : absent,
    live: bool,
  }),
  'domainxml/qemu': () => ({
    family: oneOf('generic', 'qemu'),
    expect: oneOf('success'),
    input: file,
    output: file,
    args: file,
    arch: str,
    qemuCapsVersion: str,
    qemuCaps: file,
    category: optional(str),
  }),
};

/** What is wrong with one case entry of `family`, or undefined when its shape is right. */
export function caseProblem(family: string, c: Entry, dir: string): string | undefined {
  const schema = SCHEMAS[family];
  if (!schema) return undefined;
  if (typeof c.name !== 'string' || c.name === '') return 'name: must be a non-empty string';
  const problems: string[] = [];
  for (const [field, check] of Object.entries(schema(c))) {
    const p = check(c[field], dir);
    if (p) problems.push(`${field}: ${p}`);
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}

/** Whether the runner knows the shape of `family`'s cases. */
export function hasCaseSchema(family: string): boolean {
  return Object.hasOwn(SCHEMAS, family);
}
