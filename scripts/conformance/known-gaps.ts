/**
 * The one list of conformance cases virtkit is known not to pass yet, shared
 * by the conformance runner and by every `npm test` suite that reads
 * ../shared/conformance. It lives in `known-gaps.json` beside this file:
 * `{ "<family>": { "<case name>": "<why it fails>" } }`.
 *
 * The runner counts a failing case on the list as a known gap, any other
 * failure as a real one, and a listed case that passes (or no longer exists)
 * as a stale entry that fails the run too, so the list can only shrink
 * honestly. Tests use `knownGap()` to mark the same cases.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaseResult } from './types.js';

export const KNOWN_GAPS_FILE = join(dirname(fileURLToPath(import.meta.url)), 'known-gaps.json');

export type GapList = Readonly<Record<string, Readonly<Record<string, string>>>>;

/** Reads a gap list in the format of known-gaps.json (the runner's `--known-gaps FILE`). */
export function loadKnownGaps(file: string): GapList {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${file}: must map families to their gaps`);
  }
  const out: Record<string, Record<string, string>> = {};
  for (const [family, cases] of Object.entries(raw)) {
    if (family.startsWith('_')) continue; // "_about" and other notes
    if (typeof cases !== 'object' || cases === null || Array.isArray(cases)) {
      throw new Error(`${file}: family ${family} must map case names to reasons`);
    }
    const entries: Record<string, string> = {};
    for (const [name, reason] of Object.entries(cases as Record<string, unknown>)) {
      if (typeof reason !== 'string' || reason.trim() === '') {
        throw new Error(`${file}: ${family} ${name} needs a reason`);
      }
      entries[name] = reason;
    }
    out[family] = entries;
  }
  return out;
}

export const KNOWN_GAPS: GapList = loadKnownGaps(KNOWN_GAPS_FILE);

/** The reason a case is a known gap, or undefined when it must pass. */
export function knownGap(family: string, name: string): string | undefined {
  return KNOWN_GAPS[family]?.[name];
}

/** How many known gaps a family has (all families when none is named). */
export function knownGapCount(family?: string): number {
  const families = family === undefined ? Object.keys(KNOWN_GAPS) : [family];
  return families.reduce((n, f) => n + Object.keys(KNOWN_GAPS[f] ?? {}).length, 0);
}

/** A family's results sorted against the list. */
export interface GapVerdict {
  passed: CaseResult[];
  /** Failures the list names. */
  known: CaseResult[];
  /** Failures the list does not name: real regressions. */
  unexpected: CaseResult[];
  /** Listed cases that passed or were not run at all: the list must be updated. */
  stale: Array<{ name: string; why: 'passes' | 'no such case' }>;
}

export function judge(family: string, results: CaseResult[], list: GapList = KNOWN_GAPS): GapVerdict {
  const gaps = list[family] ?? {};
  const verdict: GapVerdict = { passed: [], known: [], unexpected: [], stale: [] };
  const seen = new Set<string>();
  for (const r of results) {
    seen.add(r.name);
    const listed = Object.hasOwn(gaps, r.name);
    if (r.ok) {
      verdict.passed.push(r);
      if (listed) verdict.stale.push({ name: r.name, why: 'passes' });
    } else if (listed) verdict.known.push(r);
    else verdict.unexpected.push(r);
  }
  for (const name of Object.keys(gaps))
    if (!seen.has(name)) verdict.stale.push({ name, why: 'no such case' });
  return verdict;
}
