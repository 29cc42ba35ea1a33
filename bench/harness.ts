/**
 * Benchmark plumbing shared by every bench module: medians over many
 * iterations after warm-up, and peers (python3-libvirt, xmllint) run in the
 * same process tree so the numbers are comparable.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCHEMA_FILES } from '../src/xml/schemas.gen.js';

export interface BenchRow {
  /** What was measured, e.g. `capabilities parse`. */
  name: string;
  /** Median microseconds per operation in virtkit. */
  virtkitUs: number;
  /** The same work done by the peer, when it is installed. */
  peer?: string;
  peerUs?: number;
  /** peerUs / virtkitUs: above 1 means virtkit is faster. */
  ratio?: number;
  note?: string;
}

export interface MeasureOptions {
  /** Minimum timed iterations. Default 200. */
  iterations?: number;
  /** Untimed iterations first. Default 50. */
  warmup?: number;
  /** Keep going until this many milliseconds have been spent. Default 300. */
  minTimeMs?: number;
}

/** Median µs per call of `fn` (sync or async). */
export async function measure(fn: () => unknown, options: MeasureOptions = {}): Promise<number> {
  const warmup = options.warmup ?? 50;
  const iterations = options.iterations ?? 200;
  const minTime = (options.minTimeMs ?? 300) * 1e6;
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  const start = process.hrtime.bigint();
  while (samples.length < iterations || Number(process.hrtime.bigint() - start) < minTime) {
    const t0 = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
    if (samples.length > 1_000_000) break;
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

export function row(
  name: string,
  virtkitUs: number,
  peer?: { name: string; us: number | undefined },
): BenchRow {
  const r: BenchRow = { name, virtkitUs: round(virtkitUs) };
  if (peer && peer.us !== undefined) {
    r.peer = peer.name;
    r.peerUs = round(peer.us);
    r.ratio = round(peer.us / virtkitUs);
  }
  return r;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** True when `/usr/bin/python3 -c 'import libvirt'` works. */
export function hasPythonLibvirt(): boolean {
  return spawnSync('/usr/bin/python3', ['-c', 'import libvirt'], { stdio: 'ignore' }).status === 0;
}

/**
 * Runs a python3-libvirt snippet that defines `bench()` and prints the
 * median µs of `bench` as JSON; returns undefined when libvirt's bindings
 * are missing or the snippet fails.
 */
export function pythonMedianUs(setup: string, body: string, iterations = 2000): number | undefined {
  if (!hasPythonLibvirt()) return undefined;
  const script = `
import libvirt, time, json, statistics
libvirt.registerErrorHandler(lambda *a: None, None)
${setup}
def bench():
${body
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
for _ in range(${Math.min(200, iterations)}): bench()
s = []
for _ in range(${iterations}):
    t0 = time.perf_counter_ns(); bench(); s.append((time.perf_counter_ns() - t0) / 1000)
print(json.dumps(statistics.median(s)))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) return undefined;
  return Number(r.stdout.trim());
}

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * xmllint's time to validate one document against `schema` (one of ours),
 * in µs. It validates many files in one process, so the per-document cost
 * is (time for N files - time for 1 file) / (N - 1): process start-up and
 * schema compilation cancel out. `undefined` without xmllint or the schema.
 */
export function xmllintUs(xml: string, schema: string, n = 300): number | undefined {
  if (!hasCommand('xmllint') || !(schema in SCHEMA_FILES)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-bench-'));
  try {
    for (const [name, text] of Object.entries(SCHEMA_FILES)) writeFileSync(join(dir, name), text as string);
    const files: string[] = [];
    for (let i = 0; i < n; i++) {
      const f = join(dir, `doc${i}.xml`);
      writeFileSync(f, xml);
      files.push(f);
    }
    const time = (list: string[]) => {
      const t0 = process.hrtime.bigint();
      const r = spawnSync('xmllint', ['--noout', '--relaxng', join(dir, schema), ...list], {
        stdio: 'ignore',
      });
      const t = Number(process.hrtime.bigint() - t0) / 1000;
      return r.status === 0 ? t : undefined;
    };
    const one = time(files.slice(0, 1));
    const all = time(files);
    if (one === undefined || all === undefined) return undefined;
    return (all - one) / (n - 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
