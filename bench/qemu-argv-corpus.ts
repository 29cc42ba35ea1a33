/**
 * XML → QEMU argv over libvirt's whole qemuxmlconf corpus (../shared, 545
 * inputs): per case, the median time of parse + `applyQemuDefaults` +
 * `buildCommandLine`; then the median and p99 over the cases. The peer is
 * libvirt's `domainXMLToNative('qemu-argv')` (what `virsh domxml-to-native
 * qemu-argv` calls) on a private libvirtd with its QEMU driver, timed the
 * same way over the inputs it accepts: libvirt 9.0 against this host's
 * QEMU refuses the cases that need newer QEMU features, so the comparison
 * row uses only the cases both accept.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  HARNESS,
  HARNESS_FIRMWARE,
  harnessCaps,
  harnessPaths,
  loadCaps,
} from '../scripts/conformance/domainxml-qemu.js';
import { DomainDef } from '../src/conf/domain/domain-def.js';
import { buildCommandLine } from '../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../src/drivers/qemu/defaults/index.js';
import type { QemuCaps } from '../src/drivers/qemu/probe/qemu-caps.js';
import { LIBVIRTD, startLibvirtd } from '../test/drivers/remote/libvirtd.js';
import { HAS_SHARED, SHARED_DIR } from '../test/shared-data.js';
import type { BenchRow } from './harness.js';
import { hasPythonLibvirt } from './harness.js';

const RUNS = 15;

interface Input {
  name: string;
  xml: string;
}

function inputs(): Input[] {
  const cases = JSON.parse(readFileSync(join(SHARED_DIR, 'domainxml', 'cases.json'), 'utf8')) as Array<{
    name: string;
    family: string;
    expect: string;
    input: string;
  }>;
  return cases
    .filter((c) => c.family === 'qemu' && c.expect === 'success')
    .map((c) => ({
      name: c.name,
      xml: readFileSync(join(SHARED_DIR, 'domainxml', c.input), 'utf8').replace(
        /<!--[\s\S]*?-->[ \t]*\n?/g,
        '',
      ),
    }));
}

function toArgv(xml: string, caps: QemuCaps): void {
  const def = DomainDef.fromXML(xml, { ...HARNESS, deferImplicitControllers: true });
  applyQemuDefaults(def, caps, { libDir: '/var/lib/libvirt/qemu', firmware: HARNESS_FIRMWARE });
  buildCommandLine(def, caps, harnessPaths(def.name));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const p99 = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))] ?? 0;
const r2 = (n: number) => Math.round(n * 100) / 100;

/** Median µs per case for virtkit; cases it refuses are left out. */
function virtkitTimes(list: Input[], caps: QemuCaps): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of list) {
    try {
      toArgv(c.xml, caps);
    } catch {
      continue;
    }
    const samples: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = process.hrtime.bigint();
      toArgv(c.xml, caps);
      samples.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    out.set(c.name, median(samples));
  }
  return out;
}

/** Median µs per case for libvirt's domainXMLToNative, on a private daemon; undefined without one. */
async function libvirtTimes(list: Input[]): Promise<Map<string, number> | undefined> {
  if (!LIBVIRTD || !hasPythonLibvirt()) return undefined;
  const daemon = await startLibvirtd();
  try {
    const file = join(tmpdir(), `virtkit-bench-corpus-${process.pid}.json`);
    writeFileSync(file, JSON.stringify(list));
    const script = `
import json, sys, time, statistics, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
out = {}
for case in json.load(open(sys.argv[2])):
    try:
        c.domainXMLToNative('qemu-argv', case['xml'], 0)
    except libvirt.libvirtError:
        continue
    s = []
    for _ in range(${RUNS}):
        t0 = time.perf_counter_ns(); c.domainXMLToNative('qemu-argv', case['xml'], 0); s.append((time.perf_counter_ns() - t0) / 1000)
    out[case['name']] = statistics.median(s)
print(json.dumps(out))
`;
    const r = spawnSync(
      '/usr/bin/python3',
      ['-c', script, `qemu+unix:///session?socket=${daemon.socket}`, file],
      {
        encoding: 'utf8',
        timeout: 600_000,
        maxBuffer: 16 << 20,
      },
    );
    if (r.status !== 0) return undefined;
    return new Map(Object.entries(JSON.parse(r.stdout) as Record<string, number>));
  } finally {
    await daemon.stop();
  }
}

export async function run(): Promise<BenchRow[]> {
  if (!HAS_SHARED)
    return [{ name: 'XML -> argv over the qemu corpus', virtkitUs: 0, note: 'skipped: no ../shared' }];
  const list = inputs();
  const caps = harnessCaps(loadCaps(SHARED_DIR, '10.0.0'));
  const ours = virtkitTimes(list, caps);
  const theirs = await libvirtTimes(list);
  const all = [...ours.values()];
  const rows: BenchRow[] = [
    {
      name: `XML -> argv, median over ${ours.size} of ${list.length} cases (p99 ${r2(p99(all))} µs)`,
      virtkitUs: r2(median(all)),
    },
  ];
  if (theirs) {
    const both = [...theirs.keys()].filter((n) => ours.has(n));
    const a = both.map((n) => ours.get(n) ?? 0);
    const b = both.map((n) => theirs.get(n) ?? 0);
    for (const [what, f] of [
      ['median', median],
      ['p99', p99],
    ] as const) {
      rows.push({
        name: `XML -> argv, ${what} over the ${both.length} cases libvirt 9.0 also accepts`,
        virtkitUs: r2(f(a)),
        peer: "libvirt domainXMLToNative('qemu-argv'), private libvirtd",
        peerUs: r2(f(b)),
        ratio: r2(f(b) / f(a)),
      });
    }
  }
  return rows;
}
