/**
 * The remote driver against a private libvirtd serving `test:///default`
 * over its unix socket, side by side with python3-libvirt (libvirt's own C
 * client) on the same daemon. Run alone with `npx tsx bench/remote.ts`.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RemoteConnection } from '../src/drivers/remote/remote-connection.js';
import { parseUri } from '../src/uri.js';
import { LIBVIRTD, startLibvirtd } from '../test/drivers/remote/libvirtd.js';
import { type BenchRow, hasPythonLibvirt, measure, pythonMedianUs, row } from './harness.js';

const DOMAIN = (name: string) =>
  `<domain type='test'><name>${name}</name><memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='i686'>hvm</type></os></domain>`;

/** Total µs per call with `inflight` calls kept outstanding on one connection. */
async function throughputUs(inflight: number, total: number, call: () => Promise<unknown>): Promise<number> {
  let issued = 0;
  const worker = async () => {
    while (issued < total) {
      issued++;
      await call();
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker)); // warm-up
  issued = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: inflight }, worker));
  return Number(process.hrtime.bigint() - t0) / 1000 / total;
}

/** python3-libvirt with `threads` threads sharing one connection (libvirt's client multiplexes them). */
function pythonThroughputUs(uri: string, threads: number, total: number): number | undefined {
  if (!hasPythonLibvirt()) return undefined;
  const script = `
import libvirt, threading, time, json
c = libvirt.open(${JSON.stringify(uri)})
def work(n):
    for _ in range(n): c.lookupByName('test').info()
for _ in range(200): c.lookupByName('test').info()
per = ${Math.ceil(total / threads)}
ts = [threading.Thread(target=work, args=(per,)) for _ in range(${threads})]
t0 = time.perf_counter_ns()
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps((time.perf_counter_ns() - t0) / 1000 / (per * ${threads})))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', timeout: 120_000 });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

/** Client CPU time (user + system) per call with `inflight` calls outstanding: what the client itself costs. */
async function clientCpuUs(inflight: number, total: number, call: () => Promise<unknown>): Promise<number> {
  await throughputUs(inflight, Math.min(total, 1000), call);
  const before = process.cpuUsage();
  await throughputUs(inflight, total, call);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / total;
}

/** The same for python3-libvirt (its process CPU time, threads included). */
function pythonClientCpuUs(uri: string, threads: number, total: number): number | undefined {
  if (!hasPythonLibvirt()) return undefined;
  const script = `
import libvirt, threading, time, json
c = libvirt.open(${JSON.stringify(uri)})
d = c.lookupByName('test')
def work(n):
    for _ in range(n): d.info()
for _ in range(500): d.info()
per = ${Math.ceil(total / threads)}
ts = [threading.Thread(target=work, args=(per,)) for _ in range(${threads})]
t0 = time.process_time_ns()
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps((time.process_time_ns() - t0) / 1000 / (per * ${threads})))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', timeout: 120_000 });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

/** Median of a few numbers (undefined ones dropped). */
function median(xs: readonly (number | undefined)[]): number | undefined {
  const v = xs.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  return v.length === 0 ? undefined : v[Math.floor(v.length / 2)];
}

/** Rounds of virtkit then the peer, alternated, so load from elsewhere on the machine hits both alike. */
const ROUNDS = 3;

export async function run(): Promise<BenchRow[]> {
  if (!LIBVIRTD) return [{ name: 'remote (libvirtd not installed)', virtkitUs: 0, note: 'skipped' }];
  const daemon = await startLibvirtd();
  const uri = daemon.unixUri;
  const peer = 'python3-libvirt';
  const rows: BenchRow[] = [];
  const conn = await RemoteConnection.open(parseUri(uri), { readonly: false });
  const paired = async (
    name: string,
    ours: () => Promise<number>,
    theirs: (() => number | undefined) | undefined,
    peerName = peer,
  ) => {
    const vk: number[] = [];
    const py: (number | undefined)[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      vk.push(await ours());
      if (theirs) py.push(theirs());
    }
    rows.push(row(name, median(vk)!, theirs ? { name: peerName, us: median(py) } : undefined));
  };
  const py =
    (setup: string, body: string, n = 2000) =>
    () =>
      pythonMedianUs(`c = libvirt.open(${JSON.stringify(uri)})\n${setup}`, body, n);
  try {
    await paired(
      'getCapabilities (XML)',
      () => measure(() => conn.getCapabilitiesXml()),
      py('', 'c.getCapabilities()'),
    );
    // typed calls beside the XML string call they wrap, alternated: the goal is within 2x (ratio >= 0.5)
    const testDom = await conn.lookupDomain({ name: 'test' });
    const typed = async (
      name: string,
      typedCall: () => Promise<unknown>,
      xmlCall: () => Promise<unknown>,
    ) => {
      const t: number[] = [];
      const x: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        x.push(await measure(xmlCall));
        t.push(await measure(typedCall));
      }
      rows.push(row(name, median(t)!, { name: 'the XML string call, same run', us: median(x) }));
    };
    await typed(
      'getCapabilities (typed Capabilities)',
      () => conn.getCapabilities(),
      () => conn.getCapabilitiesXml(),
    );
    await typed(
      'domainGetDefinition (typed DomainDef)',
      () => conn.domainGetDefinition(testDom),
      () => conn.domainGetXml(testDom),
    );
    await paired('listAllDomains', () => measure(() => conn.listDomains({})), py('', 'c.listAllDomains(0)'));
    await paired(
      'lookupByName + info',
      () => measure(async () => conn.domainGetInfo(await conn.lookupDomain({ name: 'test' }))),
      py('', "c.lookupByName('test').info()"),
    );
    let n = 0;
    await paired(
      'defineXML + undefine',
      () =>
        measure(async () => {
          const d = await conn.defineDomain(DOMAIN(`bench-vk-${n++}`));
          await conn.domainUndefine(d);
        }),
      py(
        'import itertools\nn = itertools.count()',
        `d = c.defineXML(${JSON.stringify(DOMAIN('bench-py-NAME'))}.replace('NAME', str(next(n))))\nd.undefine()`,
      ),
    );
    await paired(
      'open + close',
      () =>
        measure(
          async () => {
            const c = await RemoteConnection.open(parseUri(uri), { readonly: false });
            await c.close();
          },
          { iterations: 100, warmup: 10 },
        ),
      () => pythonMedianUs('', `libvirt.open(${JSON.stringify(uri)}).close()`, 300),
    );
    const total = 20_000;
    const lookupInfo = async () => conn.domainGetInfo(await conn.lookupDomain({ name: 'test' }));
    await paired(
      'lookupByName + info, 16 in flight (µs per op)',
      () => throughputUs(16, total, lookupInfo),
      () => pythonThroughputUs(uri, 16, total),
      `${peer} (16 threads)`,
    );
    await paired(
      'lookupByName + info, 16 in flight vs peer one at a time',
      () => throughputUs(16, total, lookupInfo),
      () => pythonThroughputUs(uri, 1, total / 4),
      `${peer} (1 thread)`,
    );
    // how throughput scales with calls in flight on one connection (the daemon's side bounds it)
    const dom = await conn.lookupDomain({ name: 'test' });
    for (const inflight of [1, 16]) {
      await paired(
        `client CPU per domainGetInfo, ${inflight} in flight (µs)`,
        () => clientCpuUs(inflight, 10_000, () => conn.domainGetInfo(dom)),
        () => pythonClientCpuUs(uri, inflight, 10_000),
        `${peer} (${inflight} thread${inflight > 1 ? 's' : ''})`,
      );
    }
    for (const inflight of [1, 4, 64]) {
      await paired(
        `domainGetInfo, ${inflight} in flight (µs per call)`,
        () => throughputUs(inflight, 10_000, () => conn.domainGetInfo(dom)),
        undefined,
      );
    }
  } finally {
    await conn.close();
    await daemon.stop();
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  run().then(
    (rows) => console.log(JSON.stringify(rows, null, 2)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
