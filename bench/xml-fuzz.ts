/**
 * `npx tsx bench/xml-fuzz.ts [COUNT] [SEED]`: the full differential fuzz run
 * (default 100,000 documents). Mutates the XML files of libvirt's
 * conformance data (or our fixtures without it) and checks, for each
 * document, that our parser and libxml2 accept the same and build the same
 * tree, that nothing but a VirError escapes, and that no document takes over
 * 100 ms or grows the heap by over 50 MB. Exits non-zero on any failure.
 *
 * Run it as `node --expose-gc --import tsx bench/xml-fuzz.ts` to collect
 * garbage between documents (outside the timing), so that a collector pause
 * owed to earlier documents is not charged to the one being parsed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VirError } from '../src/errors.js';
import { parseXml } from '../src/xml/parse.js';
import { fixture, HAS_SHARED, SHARED_DIR } from '../test/shared-data.js';
import { compare } from '../test/xml/libxml2-diff.js';
import { mutate, rng } from '../test/xml/mutate.js';

const count = Number(process.argv[2] ?? 100_000);
const seed = Number(process.argv[3] ?? 20);
// `--show K`: only regenerate and explain document K of the run
const show = process.argv[4] === '--show' ? Number(process.argv[5]) : undefined;
const root = HAS_SHARED ? SHARED_DIR : fixture();
const texts = readdirSync(root, { withFileTypes: true, recursive: true })
  .filter((e) => e.isFile() && e.name.endsWith('.xml'))
  .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'));

const r = rng(seed);
let disagree = 0;
let crashes = 0;
let slow = 0;
let heavy = 0;
let accepted = 0;
let maxMs = 0;
const t0 = performance.now();
for (let k = 0; k < count; k++) {
  let doc = texts[Math.floor(r() * texts.length)]!;
  const rounds = 1 + Math.floor(r() * 3);
  for (let m = 0; m < rounds; m++) doc = mutate(doc, r);
  if (show !== undefined) {
    if (k === show) explain(doc);
    continue;
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc && k % 500 === 0) gc();
  const heap = process.memoryUsage().heapUsed;
  const start = performance.now();
  try {
    parseXml(doc);
  } catch (err) {
    if (!(err instanceof VirError)) {
      crashes++;
      if (crashes <= 10) console.log(`non-VirError #${k}:`, err);
    }
  }
  // our parser alone is timed and weighed; libxml2's share is not ours to bound
  const ms = performance.now() - start;
  maxMs = Math.max(maxMs, ms);
  if (ms > 100 && ++slow <= 10) console.log(`slow #${k}: ${doc.length} characters in ${ms.toFixed(1)} ms`);
  if (process.memoryUsage().heapUsed - heap > 50 * 1024 * 1024) heavy++;
  try {
    const c = compare(doc);
    if (c.ours.tree !== undefined) accepted++;
    if (!c.agree && !c.excused) {
      disagree++;
      if (disagree <= 10)
        console.log(
          `disagreement #${k}: ours ${c.ours.error ?? 'accepts'} / libxml2 ${c.libxml2.error ?? 'accepts'}`,
        );
    }
  } catch (err) {
    crashes++;
    if (crashes <= 10) console.log(`non-VirError #${k}:`, err);
  }
}
const secs = (performance.now() - t0) / 1000;
console.log(
  JSON.stringify({
    documents: count,
    seed,
    accepted,
    disagree,
    crashes,
    over100ms: slow,
    over50MB: heavy,
    maxMs,
    secs,
  }),
);
process.exit(disagree + crashes + slow + heavy > 0 ? 1 : 0);

function explain(doc: string): never {
  const t = performance.now();
  try {
    parseXml(doc);
  } catch {}
  console.error(`ours alone: ${(performance.now() - t).toFixed(1)} ms for ${doc.length} characters`);
  const c = compare(doc);
  const a = c.ours.tree ?? c.ours.error ?? '';
  const b = c.libxml2.tree ?? c.libxml2.error ?? '';
  let d = 0;
  while (d < a.length && a[d] === b[d]) d++;
  console.log(
    JSON.stringify(
      {
        input: doc,
        ours: a.slice(Math.max(0, d - 200), d + 200),
        libxml2: b.slice(Math.max(0, d - 200), d + 200),
      },
      null,
      1,
    ),
  );
  process.exit(0);
}
