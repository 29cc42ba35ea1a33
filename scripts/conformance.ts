/**
 * The conformance runner: replays libvirt's own test data against virtkit.
 *
 *   npm run conformance -- [--data DIR] [--json FILE] [--family NAME]... [--verbose]
 *                          [--known-gaps FILE]
 *
 * DIR is laid out like ../shared/conformance (the default). Each family is a
 * module in scripts/conformance/ exporting `run(dataDir)`. Every folder of DIR
 * is claimed by a family; a folder no family claims, or a family whose module
 * does not exist yet, has each of its cases failed as `not implemented`.
 *
 * A failing case named in scripts/conformance/known-gaps.json is a known gap;
 * any other failure, and any listed case that passes or does not exist, fails
 * the run. One line per family (`name: N passed, M failed`), then the totals.
 * `--known-gaps FILE` judges against another list of the same format (the
 * runner's own tests use it on data of their own).
 *
 * Exit status: 0 when every case passed or is a listed gap; 1 when a case
 * failed unexpectedly or the gap list is stale; 2 when the run could not be
 * made at all (no data directory, a `--family` naming nothing, bad arguments).
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { caseProblem } from './conformance/case-checks.js';
import {
  type GapList,
  type GapVerdict,
  judge,
  KNOWN_GAPS,
  KNOWN_GAPS_FILE,
  loadKnownGaps,
} from './conformance/known-gaps.js';
import { type CaseResult, caseName } from './conformance/types.js';

interface Family {
  name: string;
  /** The top-level folder of the data that holds its cases. */
  dir: string;
  /** Module under scripts/conformance/ that implements it. */
  module: string;
  /** The file whose cases it runs, relative to the data directory. */
  casesFile: string;
  /** Which entries of that file are this family's (all when absent). */
  select?: (c: Record<string, unknown>) => boolean;
  /**
   * Whether the family reports one result per entry of its cases file, named
   * as the entry (default true). Then an entry of the wrong shape fails as bad
   * data whatever the module said, and an entry the module did not report
   * fails as skipped.
   */
  perCase?: boolean;
}

const here = dirname(fileURLToPath(import.meta.url));

const FAMILIES: Family[] = [
  {
    name: 'capabilities',
    dir: 'capabilities',
    module: 'capabilities.ts',
    casesFile: 'capabilities/cases.json',
  },
  // Every CPU document of the cputest data round-trips; its cases are the files themselves.
  { name: 'cpu-xml', dir: 'cpu', module: 'cpu-xml.ts', casesFile: 'cpu/cases.json', perCase: false },
  { name: 'cpu', dir: 'cpu', module: 'cpu.ts', casesFile: 'cpu/cases.json' },
  {
    name: 'domainxml/generic',
    dir: 'domainxml',
    module: 'domainxml-generic.ts',
    casesFile: 'domainxml/cases.json',
    // It also takes the entries of no known family, so that they fail here rather than vanish.
    select: (c) => c.family !== 'qemu',
  },
  {
    name: 'domainxml/qemu',
    dir: 'domainxml',
    module: 'domainxml-qemu.ts',
    casesFile: 'domainxml/cases.json',
    select: (c) => c.family === 'qemu',
  },
  { name: 'qemucaps', dir: 'qemucaps', module: 'qemucaps.ts', casesFile: 'qemucaps/cases.json' },
  { name: 'domaincaps', dir: 'domaincaps', module: 'domaincaps.ts', casesFile: 'domaincaps/cases.json' },
  { name: 'hostcaps', dir: 'hostcaps', module: 'hostcaps.ts', casesFile: 'hostcaps/cases.json' },
  { name: 'objects', dir: 'objects', module: 'objects.ts', casesFile: 'objects/cases.json' },
];

/** A family's case list, or the reason it cannot be read. */
function readCases(dataDir: string, family: Family): Array<Record<string, unknown>> | string {
  const file = join(dataDir, family.casesFile);
  if (!existsSync(file)) return `${family.casesFile} is missing`;
  let list: unknown;
  try {
    list = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return `${family.casesFile} is not JSON: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (!Array.isArray(list)) return `${family.casesFile} is not a list of cases`;
  const bad = list.findIndex((c) => typeof c !== 'object' || c === null || Array.isArray(c));
  if (bad >= 0) return `${family.casesFile}: entry ${bad} is not an object`;
  // An entry without a name is still a case: it fails under its place in the file.
  const named = (list as Array<Record<string, unknown>>).map((c, i) => ({
    ...c,
    name: caseName(c, i, family.casesFile),
  }));
  const mine = named.filter(family.select ?? (() => true));
  if (mine.length === 0) return `${family.casesFile} has no ${family.name} cases`;
  return mine;
}

/**
 * A per-case family's results held against its cases file: one result per
 * entry, in the file's order. Entries of the wrong shape (see case-checks.ts)
 * or with a name used twice fail as bad data; an entry the module left out
 * fails as skipped; results for names the file does not have are kept.
 */
function holdToCases(
  family: Family,
  dataDir: string,
  cases: Array<Record<string, unknown>>,
  results: CaseResult[],
): CaseResult[] {
  const dir = dirname(join(dataDir, family.casesFile));
  const byName = new Map<string, CaseResult>();
  for (const r of results) if (!byName.has(r.name)) byName.set(r.name, r);
  const seen = new Set<string>();
  const out: CaseResult[] = [];
  for (const c of cases) {
    const name = String(c.name);
    if (seen.has(name)) {
      out.push({ name, ok: false, reason: `bad data: ${family.casesFile} has two cases named ${name}` });
      continue;
    }
    seen.add(name);
    const problem = caseProblem(family.name, c, dir);
    const r = byName.get(name);
    if (problem) out.push({ name, ok: false, reason: `bad data: ${family.casesFile} ${name}: ${problem}` });
    else if (!r) out.push({ name, ok: false, reason: 'the family reported no result for this case' });
    else out.push(r);
  }
  for (const r of results) if (!seen.has(r.name)) out.push(r);
  return out;
}

interface Args {
  data: string;
  json: string | undefined;
  families: string[];
  verbose: boolean;
  knownGaps: string;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    data: resolve(here, '../../shared/conformance'),
    json: undefined,
    families: [],
    verbose: false,
    knownGaps: KNOWN_GAPS_FILE,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--data') args.data = resolve(value());
    else if (a === '--json') args.json = resolve(value());
    else if (a === '--family') args.families.push(value());
    else if (a === '--verbose' || a === '-v') args.verbose = true;
    else if (a === '--known-gaps') args.knownGaps = resolve(value());
    else throw new UsageError(`unknown argument ${a}`);
  }
  return args;
}

/**
 * Case name → category, for families whose cases file gives each case a
 * `category` (domainxml/qemu does); empty for the others.
 */
function categories(dataDir: string, family: Family): Map<string, string> {
  const cases = readCases(dataDir, family);
  const out = new Map<string, string>();
  if (typeof cases === 'string') return out;
  for (const c of cases) if (typeof c.category === 'string') out.set(String(c.name), c.category);
  return out;
}

/** One indented line per category: `  category cpu: 40 passed, 2 failed (2 known gaps)`. */
function categoryLines(byName: Map<string, string>, v: GapVerdict): string[] {
  const rows = new Map<string, { passed: number; known: number; unexpected: number }>();
  const row = (name: string) => {
    const cat = byName.get(name) ?? '(none)';
    const r = rows.get(cat) ?? { passed: 0, known: 0, unexpected: 0 };
    rows.set(cat, r);
    return r;
  };
  for (const c of v.passed) row(c.name).passed++;
  for (const c of v.known) row(c.name).known++;
  for (const c of v.unexpected) row(c.name).unexpected++;
  return [...rows.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([cat, r]) => {
      const notes = [r.known > 0 && `${r.known} known gaps`, r.unexpected > 0 && `${r.unexpected} UNEXPECTED`]
        .filter(Boolean)
        .join(', ');
      const failed = r.known + r.unexpected;
      return `  category ${cat}: ${r.passed} passed, ${failed} failed${notes ? ` (${notes})` : ''}`;
    });
}

async function runFamily(family: Family, dataDir: string): Promise<CaseResult[]> {
  const cases = readCases(dataDir, family);
  if (typeof cases === 'string') return [{ name: family.name, ok: false, reason: cases }];
  const modulePath = join(here, 'conformance', family.module);
  const names = () => cases.map((c) => String(c.name));
  if (!existsSync(modulePath)) return names().map((name) => ({ name, ok: false, reason: 'not implemented' }));
  try {
    const mod = (await import(pathToFileURL(modulePath).href)) as {
      run(dataDir: string): Promise<CaseResult[]>;
    };
    const results = await mod.run(dataDir);
    if (results.length === 0) return [{ name: family.name, ok: false, reason: 'the family ran no case' }];
    return family.perCase === false ? results : holdToCases(family, dataDir, cases, results);
  } catch (err) {
    // A family that crashes still reports: every case failed, with the cause.
    const reason = `family crashed: ${err instanceof Error ? err.message : String(err)}`;
    return names().map((name) => ({ name, ok: false, reason }));
  }
}

/** Folders of the data that no family claims: each of their cases fails as not implemented. */
function unclaimed(dataDir: string): Family[] {
  const claimed = new Set(FAMILIES.map((f) => f.dir));
  return readdirSync(dataDir)
    .filter((d) => statSync(join(dataDir, d)).isDirectory() && !claimed.has(d))
    .sort()
    .map((d) => ({ name: d, dir: d, module: `${d}.ts`, casesFile: `${d}/cases.json` }));
}

function summary(name: string, v: GapVerdict): string {
  const failed = v.known.length + v.unexpected.length;
  const notes: string[] = [];
  if (v.known.length > 0) notes.push(`${v.known.length} known gaps`);
  if (v.unexpected.length > 0) notes.push(`${v.unexpected.length} UNEXPECTED`);
  if (v.stale.length > 0) notes.push(`${v.stale.length} STALE gap entries`);
  return `${name}: ${v.passed.length} passed, ${failed} failed${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(args.data) || !statSync(args.data).isDirectory()) {
    console.error(`no conformance data at ${args.data}`);
    return 2;
  }
  const all = [...FAMILIES, ...unclaimed(args.data)];
  const present = all.filter((f) => existsSync(join(args.data, f.dir)));
  const unknown = args.families.filter((n) => !all.some((f) => f.name === n));
  if (unknown.length > 0) {
    console.error(
      `--family names nothing: ${unknown.join(', ')} (families: ${all.map((f) => f.name).join(', ')})`,
    );
    return 2;
  }
  const chosen = present.filter((f) => args.families.length === 0 || args.families.includes(f.name));
  if (chosen.length === 0) {
    console.error(`no family's data is present in ${args.data}`);
    return 2;
  }
  const gaps: GapList = args.knownGaps === KNOWN_GAPS_FILE ? KNOWN_GAPS : loadKnownGaps(args.knownGaps);
  for (const n of Object.keys(gaps)) {
    if (!all.some((f) => f.name === n)) console.log(`known-gaps.json names an unknown family ${n}`);
  }

  const report: Record<string, GapVerdict> = {};
  let passed = 0;
  let known = 0;
  let bad = 0;
  for (const family of chosen) {
    const verdict = judge(family.name, await runFamily(family, args.data), gaps);
    report[family.name] = verdict;
    passed += verdict.passed.length;
    known += verdict.known.length;
    bad += verdict.unexpected.length + verdict.stale.length;
    console.log(summary(family.name, verdict));
    const byCategory = categories(args.data, family);
    if (byCategory.size > 0) for (const line of categoryLines(byCategory, verdict)) console.log(line);
    for (const c of verdict.unexpected) console.log(`  FAIL ${c.name}: ${c.reason ?? ''}`);
    for (const s of verdict.stale)
      console.log(`  STALE ${s.name}: ${s.why}; take it off the known-gaps list`);
    if (args.verbose) for (const c of verdict.known) console.log(`  known gap ${c.name}: ${c.reason ?? ''}`);
  }
  if (args.json) writeFileSync(args.json, `${JSON.stringify({ families: report }, null, 2)}\n`);
  console.log(
    `known gaps: ${known} failing cases are on ${relative(process.cwd(), args.knownGaps)} and count as skipped below`,
  );
  console.log(`${passed} passed, ${bad} failed, ${known} skipped`);
  return bad > 0 ? 1 : 0;
}

main().then(
  (status) => {
    process.exitCode = status;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  },
);
