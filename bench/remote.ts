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

export async function run(): Promise<BenchRow[]> {
  if (!LIBVIRTD) return [{ name: 'remote (libvirtd not installed)', virtkitUs: 0, note: 'skipped' }];
  const daemon = await startLibvirtd();
  const uri = daemon.unixUri;
  const peer = 'python3-libvirt';
  const py = (setup: string, body: string, n = 2000) =>
    pythonMedianUs(`c = libvirt.open(${JSON.stringify(uri)})\n${setup}`, body, n);
  const rows: BenchRow[] = [];
  const conn = await RemoteConnection.open(parseUri(uri), { readonly: false });
  try {
    rows.push(
      row('getCapabilities (XML)', await measure(() => conn.getCapabilitiesXml()), {
        name: peer,
        us: py('', 'c.getCapabilities()'),
      }),
    );
    rows.push(row('getCapabilities (typed Capabilities)', await measure(() => conn.getCapabilities())));
    rows.push(
      row('listAllDomains', await measure(() => conn.listDomains({})), {
        name: peer,
        us: py('', 'c.listAllDomains(0)'),
      }),
    );
    rows.push(
      row(
        'lookupByName + info',
        await measure(async () => conn.domainGetInfo(await conn.lookupDomain({ name: 'test' }))),
        { name: peer, us: py('', "c.lookupByName('test').info()") },
      ),
    );
    let n = 0;
    rows.push(
      row(
        'defineXML + undefine',
        await measure(async () => {
          const d = await conn.defineDomain(DOMAIN(`bench-vk-${n++}`));
          await conn.domainUndefine(d);
        }),
        {
          name: peer,
          us: py(
            'import itertools\nn = itertools.count()',
            `d = c.defineXML(${JSON.stringify(DOMAIN('bench-py-NAME'))}.replace('NAME', str(next(n))))\nd.undefine()`,
          ),
        },
      ),
    );
    rows.push(
      row(
        'open + close',
        await measure(
          async () => {
            const c = await RemoteConnection.open(parseUri(uri), { readonly: false });
            await c.close();
          },
          { iterations: 100, warmup: 10 },
        ),
        { name: peer, us: pythonMedianUs('', `libvirt.open(${JSON.stringify(uri)}).close()`, 300) },
      ),
    );
    const total = 20_000;
    rows.push(
      row(
        'lookupByName + info, 16 in flight (µs per call)',
        await throughputUs(16, total, async () =>
          conn.domainGetInfo(await conn.lookupDomain({ name: 'test' })),
        ),
        { name: `${peer} (16 threads)`, us: pythonThroughputUs(uri, 16, total) },
      ),
    );
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
