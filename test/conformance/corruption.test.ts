/**
 * The conformance runner catches what it must: a small copy of libvirt's
 * data (a few cases of several families) passes as it is, and each
 * corruption of the copy (an attribute of an expected XML, an argv token,
 * two argv lines swapped, a feature name, a deleted file, a case of an
 * unknown kind or family, a broken cases.json, an error case whose error
 * would now be a different one) turns its case from a pass into a failure,
 * with exit status 1. Runs against ../shared/conformance, skipped without it.
 */
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_SHARED, REPO_ROOT, SHARED_DIR, SHARED_NOTE } from '../shared-data.js';

type Entry = Record<string, unknown>;

const CPU_CASES = [
  'update:host/guest',
  'guest:host/guest',
  'compare:host/bogus-feature',
  'compare:host/bogus-model',
  'guest:host/guest-nofallback,models',
  'hasfeature:host/foo',
  'hasfeature:host/lm',
  'baseline:incompatible-vendors',
  'cpuid-host:Core-i7-2600',
  'cpuid-signature:Core-i7-2600',
  'cpuid-guest:Core-i7-2600',
];
const DOMAIN_CASES = [
  'qemu/x86-kvm-32-on-64',
  'qemu/firmware-manual-bios',
  'qemu/machine-smm-on',
  'generic/cachetune',
  'generic/chardev-reconnect',
  'generic/cachetune-colliding-allocs',
  'generic/chardev-tcp-missing-service',
];
/** Cases that exist only in the corrupted copy. */
const ADDED = new Set([
  'frobnicate:host',
  'martian/landing',
  'generic/cachetune-maybe',
  'qemucaps',
  'qemucaps2xml-elsewhere',
]);
const FAMILIES = ['cpu', 'domainxml/generic', 'domainxml/qemu', 'qemucaps', 'capabilities'];

const work = HAS_SHARED ? mkdtempSync(join(tmpdir(), 'virtkit-corrupt-')) : '';
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Copies (as writable files) what the chosen cases need, with cases.json files holding only them. */
function copyData(to: string): void {
  const copy = (rel: string) => {
    mkdirSync(dirname(join(to, rel)), { recursive: true });
    writeFileSync(join(to, rel), readFileSync(join(SHARED_DIR, rel)));
  };
  const pick = (file: string, names: string[]) => {
    const all = JSON.parse(readFileSync(join(SHARED_DIR, file), 'utf8')) as Entry[];
    const mine = names.map((n) => {
      const c = all.find((x) => x.name === n);
      if (!c) throw new Error(`no case ${n} in ${file}`);
      return c;
    });
    mkdirSync(dirname(join(to, file)), { recursive: true });
    writeFileSync(join(to, file), JSON.stringify(mine, null, 1));
    return mine;
  };
  for (const c of pick('cpu/cases.json', CPU_CASES)) for (const f of c.files as string[]) copy(`cpu/${f}`);
  for (const f of readdirSync(join(SHARED_DIR, 'cpu/map'))) copy(`cpu/map/${f}`);
  for (const c of pick('domainxml/cases.json', DOMAIN_CASES)) {
    for (const key of ['input', 'output', 'args', 'qemuCaps']) {
      if (typeof c[key] === 'string') copy(`domainxml/${c[key]}`);
    }
  }
  pick('qemucaps/cases.json', ['10.0.0']);
  copy('qemucaps/caps_10.0.0_x86_64.replies');
  copy('qemucaps/caps_10.0.0_x86_64.xml');
  pick('capabilities/cases.json', ['qemucaps2xml-x86_64']);
  copy('capabilities/caps.x86_64.xml');
}

interface Run {
  status: number | null;
  out: string;
  /** Case name → passed, per family. */
  cases: Record<string, Record<string, boolean>>;
  reasons: Record<string, string>;
}

function runner(data: string): Run {
  const gaps = join(work, 'no-gaps.json');
  writeFileSync(gaps, '{}');
  const json = join(data, '..', `${data.split('/').at(-1)}.report.json`);
  const families = FAMILIES.flatMap((f) => ['--family', f]);
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(REPO_ROOT, 'scripts/conformance.ts'),
      '--data',
      data,
      '--known-gaps',
      gaps,
      '--json',
      json,
      ...families,
    ],
    { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 },
  );
  const cases: Run['cases'] = {};
  const reasons: Run['reasons'] = {};
  const report = JSON.parse(readFileSync(json, 'utf8')) as {
    families: Record<string, Record<'passed' | 'unexpected', Array<{ name: string; reason?: string }>>>;
  };
  for (const [family, v] of Object.entries(report.families)) {
    const mine: Record<string, boolean> = {};
    for (const c of v.passed) mine[c.name] = true;
    for (const c of v.unexpected) {
      mine[c.name] = false;
      reasons[c.name] = c.reason ?? '';
    }
    cases[family] = mine;
  }
  return { status: r.status, out: `${r.stdout}${r.stderr}`, cases, reasons };
}

/** Replaces `from` (which must be there) in a copied file. */
function edit(data: string, rel: string, from: string | RegExp, to: string | ((m: string) => string)): void {
  const path = join(data, rel);
  const text = readFileSync(path, 'utf8');
  const changed = typeof to === 'string' ? text.replace(from, to) : text.replace(from, to);
  if (changed === text) throw new Error(`${rel}: nothing to change for ${String(from)}`);
  writeFileSync(path, changed);
}

function addCase(data: string, file: string, c: Entry): void {
  const path = join(data, file);
  const list = JSON.parse(readFileSync(path, 'utf8')) as Entry[];
  writeFileSync(path, JSON.stringify([...list, c], null, 1));
}

describe.skipIf(!HAS_SHARED)(`conformance runner on a corrupted copy of the data${SHARED_NOTE}`, () => {
  let pristine: Run;
  let corrupt: Run;

  beforeAll(() => {
    const good = join(work, 'pristine');
    copyData(good);
    pristine = runner(good);

    const bad = join(work, 'corrupt');
    copyData(bad);
    const cpu = 'cpu/cases';
    // one attribute of an expected XML
    edit(bad, `${cpu}/x86_64-host+guest.xml`, "sockets='2'", "sockets='3'");
    // one feature name of an expected XML
    edit(bad, `${cpu}/x86_64-host+guest-result.xml`, /name='([a-z0-9_.]+)'/, "name='abm'");
    // an error case whose CPU becomes valid: the compare succeeds where libvirt fails
    edit(bad, `${cpu}/x86_64-bogus-feature.xml`, "name='bogus'", "name='vmx'");
    // the input of an error case is gone: a missing file is no error of the engine
    unlinkSync(join(bad, `${cpu}/x86_64-bogus-model.xml`));
    // fallback allowed: the translation succeeds where libvirt's forbid fails
    edit(bad, `${cpu}/x86_64-guest-nofallback.xml`, "fallback='forbid'", "fallback='allow'");
    // an expected file deleted
    unlinkSync(join(bad, `${cpu}/x86_64-cpuid-Core-i7-2600-host.xml`));
    // one digit of a signature
    edit(bad, `${cpu}/x86_64-cpuid-Core-i7-2600.sig`, /\d/, (d) => String((Number(d) + 1) % 10));
    // a feature libvirt knows: checking it cannot FAIL as the case says
    const cases = JSON.parse(readFileSync(join(bad, 'cpu/cases.json'), 'utf8')) as Entry[];
    const foo = cases.find((c) => c.name === 'hasfeature:host/foo');
    if (foo) foo.feature = 'lm';
    cases.push({
      kind: 'frobnicate',
      name: 'frobnicate:host',
      host: 'host',
      expected: 'YES',
      flags: [],
      files: [],
    });
    writeFileSync(join(bad, 'cpu/cases.json'), JSON.stringify(cases, null, 1));

    const dx = 'domainxml';
    // one argv token
    edit(bad, `${dx}/qemu/x86-kvm-32-on-64.x86_64-latest.args`, '-nodefaults', '-nodefault');
    // two argv lines swapped
    edit(bad, `${dx}/qemu/firmware-manual-bios.x86_64-latest.args`, /^(.*) \\\n(.*) \\\n/m, (m) => {
      const [a, b] = m.split(' \\\n');
      return `${b} \\\n${a} \\\n`;
    });
    // one attribute of an expected domain XML
    edit(
      bad,
      `${dx}/generic/chardev-reconnect.out.xml`,
      "<memory unit='KiB'>219136",
      "<memory unit='KiB'>219137",
    );
    // the input of a parse-error case is gone
    unlinkSync(join(bad, `${dx}/generic/cachetune-colliding-allocs.xml`));
    addCase(bad, `${dx}/cases.json`, {
      name: 'martian/landing',
      family: 'martian',
      expect: 'success',
      input: 'generic/cachetune.xml',
      output: 'generic/cachetune.xml',
    });
    addCase(bad, `${dx}/cases.json`, {
      name: 'generic/cachetune-maybe',
      family: 'generic',
      expect: 'maybe',
      live: true,
      input: 'generic/cachetune.xml',
      output: 'generic/cachetune.xml',
    });
    writeFileSync(join(bad, 'qemucaps/cases.json'), '[{"name": "10.0.0", ');
    addCase(bad, 'capabilities/cases.json', {
      name: 'qemucaps2xml-elsewhere',
      qemuCaps: '../qemucaps/caps_99.0.0_x86_64.xml',
      arch: 'x86_64',
      expected: 'caps.x86_64.xml',
    });
    corrupt = runner(bad);
  }, 240_000);

  it('passes every case of the copy as it is, with exit status 0', () => {
    expect(pristine.out).toContain('cpu: 11 passed, 0 failed');
    expect(pristine.out).toContain('domainxml/generic: 4 passed, 0 failed');
    expect(pristine.out).toContain('domainxml/qemu: 3 passed, 0 failed');
    expect(pristine.out).toContain('qemucaps: 1 passed, 0 failed');
    expect(pristine.out).toContain('capabilities: 1 passed, 0 failed');
    expect(pristine.status).toBe(0);
  });

  it('exits 1 on the corrupted copy', () => {
    expect(corrupt.status).toBe(1);
  });

  it.each([
    ['cpu', 'update:host/guest', /differs at line \d+/],
    ['cpu', 'guest:host/guest', /differs at line \d+/],
    ['cpu', 'compare:host/bogus-feature', /expects ERROR, but its CPU names only known models and features/],
    ['cpu', 'compare:host/bogus-model', /missing file cases\/x86_64-bogus-model\.xml/],
    ['cpu', 'guest:host/guest-nofallback,models', /expected the error .*, got a guest CPU with model/],
    ['cpu', 'cpuid-host:Core-i7-2600', /expected: names a missing file/],
    ['cpu', 'cpuid-signature:Core-i7-2600', /signature differs/],
    ['cpu', 'hasfeature:host/foo', /expects FAIL, but cpu\/map defines lm/],
    ['cpu', 'frobnicate:host', /kind: unknown value "frobnicate"/],
    ['domainxml/qemu', 'qemu/x86-kvm-32-on-64', /argv\[\d+\]: ours "-nodefaults", libvirt "-nodefault"/],
    ['domainxml/qemu', 'qemu/firmware-manual-bios', /argv\[\d+\]/],
    ['domainxml/generic', 'generic/chardev-reconnect', /output differs: .*memory/],
    ['domainxml/generic', 'generic/cachetune-colliding-allocs', /names a missing file/],
    ['domainxml/generic', 'martian/landing', /family: unknown value "martian"/],
    ['domainxml/generic', 'generic/cachetune-maybe', /expect: unknown value "maybe"/],
    ['qemucaps', 'qemucaps', /qemucaps\/cases.json is not JSON/],
    ['capabilities', 'qemucaps2xml-elsewhere', /qemuCaps: names a missing file/],
  ])('%s %s: passed untouched, fails corrupted', (family, name, reason) => {
    // A case the corruption adds did not exist before; the broken qemucaps list held case 10.0.0.
    const before = family === 'qemucaps' ? '10.0.0' : name;
    if (!ADDED.has(name) || family === 'qemucaps') {
      expect(pristine.cases[family]?.[before], `${before} passes on the pristine copy`).toBe(true);
    }
    expect(corrupt.cases[family]?.[name], `${name} fails on the corrupted copy`).toBe(false);
    expect(corrupt.reasons[name]).toMatch(reason);
  });

  it('still passes the cases left alone', () => {
    expect(corrupt.cases.cpu?.['hasfeature:host/lm']).toBe(true);
    expect(corrupt.cases.cpu?.['baseline:incompatible-vendors']).toBe(true);
    expect(corrupt.cases.cpu?.['cpuid-guest:Core-i7-2600']).toBe(true);
    expect(corrupt.cases['domainxml/qemu']?.['qemu/machine-smm-on']).toBe(true);
    expect(corrupt.cases['domainxml/generic']?.['generic/cachetune']).toBe(true);
    expect(corrupt.cases['domainxml/generic']?.['generic/chardev-tcp-missing-service']).toBe(true);
    expect(corrupt.cases.capabilities?.['qemucaps2xml-x86_64']).toBe(true);
  });
});
