/**
 * Rewrites known-gaps.json from a conformance report (`--json FILE`): every
 * failing case is listed with the start of its failure as the reason, and
 * reasons already written by hand for a case that still fails are kept.
 *
 *   npm run conformance -- --json /tmp/report.json; npx tsx scripts/conformance/update-known-gaps.ts /tmp/report.json [--refresh]
 *
 * Use it when a change fixes cases (their entries go) — never to hide a new
 * failure: review the diff of known-gaps.json before committing it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { GapVerdict } from './known-gaps.js';
import { KNOWN_GAPS, KNOWN_GAPS_FILE } from './known-gaps.js';

// `--refresh` rewrites every reason from the report (the first difference may have moved).
const refresh = process.argv.includes('--refresh');
const reportFile = process.argv.slice(2).find((a) => !a.startsWith('--'));
const report = JSON.parse(readFileSync(reportFile ?? '', 'utf8')) as {
  families: Record<string, GapVerdict>;
};
const out: Record<string, Record<string, string>> = {
  _about: {
    what: 'Conformance cases virtkit does not pass yet, shared by the conformance runner and npm test.',
    rule: 'A listed case that passes, or does not exist, fails the run: take it off. Never add a case to hide a regression.',
  },
};
// Families keep their place in the file (fewer merge conflicts); families not in this report
// keep their entries, and a family new to the list goes at the end.
const families = [...new Set([...Object.keys(KNOWN_GAPS), ...Object.keys(report.families)])];
for (const family of families) {
  const v = report.families[family];
  if (!v) {
    out[family] = { ...KNOWN_GAPS[family] };
    continue;
  }
  const failing = [...v.known, ...v.unexpected].sort((a, b) => a.name.localeCompare(b.name));
  if (failing.length === 0) continue;
  const entries: Record<string, string> = {};
  for (const c of failing) {
    const kept = refresh ? undefined : KNOWN_GAPS[family]?.[c.name];
    const reason = (c.reason ?? 'fails').replace(/\s+/g, ' ');
    entries[c.name] = kept ?? (reason.length > 200 ? `${reason.slice(0, 197)}...` : reason);
  }
  out[family] = entries;
}
writeFileSync(KNOWN_GAPS_FILE, `${JSON.stringify(out, null, 2)}\n`);
console.log(
  `${KNOWN_GAPS_FILE}: ${Object.values(out).reduce((n, f) => n + Object.keys(f).length, 0) - 2} gaps`,
);
