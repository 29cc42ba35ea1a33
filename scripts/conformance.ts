/**
 * The conformance runner: replays libvirt's own test data against virtkit.
 *
 *   npm run conformance -- [--data DIR] [--json FILE] [--family NAME]... [--verbose]
 *
 * DIR is laid out like ../shared/conformance (default). Each family is a
 * module in scripts/conformance/ exporting `run(dataDir)`; a family whose
 * data is present but whose module does not exist yet has every case failed
 * with the reason `not implemented`. One line per family, then the totals;
 * the exit status is 0 whenever the runner itself ran.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CaseResult } from './conformance/types.js';

interface Family {
  name: string;
  /** Module under scripts/conformance/ that implements it. */
  module: string;
  /** Whether the data directory holds this family's cases. */
  present(dataDir: string): boolean;
  /** Case names, used to report `not implemented` when the module is missing. */
  caseNames(dataDir: string): string[];
}

const here = dirname(fileURLToPath(import.meta.url));

function jsonList(file: string): Array<Record<string, unknown>> {
  return JSON.parse(readFileSync(file, 'utf8')) as Array<Record<string, unknown>>;
}

const FAMILIES: Family[] = [
  {
    name: 'capabilities',
    module: 'capabilities.ts',
    present: (d) => existsSync(join(d, 'capabilities/cases.json')),
    caseNames: (d) => jsonList(join(d, 'capabilities/cases.json')).map((c) => String(c.name)),
  },
  {
    name: 'cpu-xml',
    module: 'cpu-xml.ts',
    present: (d) => existsSync(join(d, 'cpu/cases')),
    caseNames: () => [],
  },
  {
    name: 'cpu',
    module: 'cpu.ts',
    present: (d) => existsSync(join(d, 'cpu/cases.json')),
    caseNames: (d) => jsonList(join(d, 'cpu/cases.json')).map((c) => String(c.name)),
  },
  {
    name: 'domainxml/generic',
    module: 'domainxml-generic.ts',
    present: (d) => existsSync(join(d, 'domainxml/cases.json')),
    caseNames: (d) =>
      jsonList(join(d, 'domainxml/cases.json'))
        .filter((c) => c.family === 'generic')
        .map((c) => String(c.name)),
  },
  {
    name: 'domainxml/qemu',
    module: 'domainxml-qemu.ts',
    present: (d) => existsSync(join(d, 'domainxml/cases.json')),
    caseNames: (d) =>
      jsonList(join(d, 'domainxml/cases.json'))
        .filter((c) => c.family === 'qemu')
        .map((c) => String(c.name)),
  },
  {
    name: 'qemucaps',
    module: 'qemucaps.ts',
    present: (d) => existsSync(join(d, 'qemucaps/cases.json')),
    caseNames: (d) => jsonList(join(d, 'qemucaps/cases.json')).map((c) => String(c.name)),
  },
  {
    name: 'domaincaps',
    module: 'domaincaps.ts',
    present: (d) => existsSync(join(d, 'domaincaps/cases.json')),
    caseNames: (d) => jsonList(join(d, 'domaincaps/cases.json')).map((c) => String(c.name)),
  },
];

interface Args {
  data: string;
  json: string | undefined;
  families: string[];
  verbose: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    data: resolve(here, '../../shared/conformance'),
    json: undefined,
    families: [],
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--data') args.data = resolve(value());
    else if (a === '--json') args.json = resolve(value());
    else if (a === '--family') args.families.push(value());
    else if (a === '--verbose' || a === '-v') args.verbose = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

async function runFamily(family: Family, dataDir: string): Promise<CaseResult[]> {
  const modulePath = join(here, 'conformance', family.module);
  if (!existsSync(modulePath)) {
    const names = family.caseNames(dataDir);
    return names.map((name) => ({ name, ok: false, reason: 'not implemented' }));
  }
  try {
    const mod = (await import(pathToFileURL(modulePath).href)) as {
      run(dataDir: string): Promise<CaseResult[]>;
    };
    return await mod.run(dataDir);
  } catch (err) {
    // A family that crashes still reports: every case failed, with the cause.
    const reason = `family crashed: ${err instanceof Error ? err.message : String(err)}`;
    const names = family.caseNames(dataDir);
    return names.length > 0
      ? names.map((name) => ({ name, ok: false, reason }))
      : [{ name: family.name, ok: false, reason }];
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(args.data)) {
    console.log(`no conformance data at ${args.data}`);
    console.log('0 passed, 0 failed');
    return;
  }
  const report: { families: Record<string, { passed: number; failed: number; cases: CaseResult[] }> } = {
    families: {},
  };
  let passed = 0;
  let failed = 0;
  for (const family of FAMILIES) {
    if (args.families.length > 0 && !args.families.includes(family.name)) continue;
    if (!family.present(args.data)) continue;
    const cases = await runFamily(family, args.data);
    const p = cases.filter((c) => c.ok).length;
    const f = cases.length - p;
    passed += p;
    failed += f;
    report.families[family.name] = { passed: p, failed: f, cases };
    console.log(`${family.name}: ${p} passed, ${f} failed`);
    if (args.verbose) for (const c of cases) if (!c.ok) console.log(`  FAIL ${c.name}: ${c.reason ?? ''}`);
  }
  if (args.json) writeFileSync(args.json, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`${passed} passed, ${failed} failed`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(2);
});
