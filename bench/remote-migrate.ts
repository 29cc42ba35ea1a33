/**
 * Live migration through libvirtd: two private daemons on this machine (each
 * with its own `host_uuid`), a diskless 32 MiB TCG guest moved back and forth,
 * managed (virtkit runs Begin3..Confirm3 itself) and peer-to-peer (the source
 * daemon runs it), beside python3-libvirt's `migrate3` / `migrateToURI3` on
 * the same daemons in the same run. Median of a few migrations each: the time
 * is mostly QEMU's and the daemons', the client's share is the difference.
 */
import { spawnSync } from 'node:child_process';
import { type Connection, connect } from '../src/connection.js';
import type { Domain } from '../src/domain.js';
import { type Daemon, LIBVIRTD, startLibvirtd } from '../test/drivers/remote/libvirtd.js';
import { type BenchRow, hasPythonLibvirt, row } from './harness.js';

const ROUNDS = 4;
const XML =
  "<domain type='qemu'><name>vk-bench-rmig</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>" +
  "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>" +
  "<emulator>/usr/bin/qemu-system-x86_64</emulator><memballoon model='none'/></devices></domain>";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function virtkitUs(conns: [Connection, Connection], peer2peer: boolean): Promise<number> {
  let dom: Domain<Connection> = await conns[0].createDomain(XML);
  const times: number[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const t0 = performance.now();
      dom = await dom.migrate(conns[(i + 1) % 2]!, { live: true, peer2peer });
      times.push((performance.now() - t0) * 1000);
    }
  } finally {
    await dom.destroy().catch(() => {});
  }
  return median(times);
}

function pythonUs(uris: [string, string], peer2peer: boolean): number | undefined {
  if (!hasPythonLibvirt()) return undefined;
  const script = `import json, sys, time, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
c = [libvirt.open(sys.argv[1]), libvirt.open(sys.argv[2])]
p2p = sys.argv[3] == 'p2p'
d = c[0].createXML(sys.argv[4], 0)
flags = libvirt.VIR_MIGRATE_LIVE | (libvirt.VIR_MIGRATE_PEER2PEER if p2p else 0)
times = []
for i in range(${ROUNDS}):
    dest = (i + 1) % 2
    t0 = time.perf_counter()
    if p2p:
        d.migrateToURI3(sys.argv[1 + dest], {}, flags)
        d = c[dest].lookupByName('vk-bench-rmig')
    else:
        d = d.migrate3(c[dest], {}, flags)
    times.append((time.perf_counter() - t0) * 1e6)
d.destroy()
times.sort()
print(json.dumps(times[len(times) // 2]))`;
  const r = spawnSync(
    '/usr/bin/python3',
    ['-c', script, uris[0], uris[1], peer2peer ? 'p2p' : 'managed', XML],
    { encoding: 'utf8', timeout: 300_000 },
  );
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

export async function run(): Promise<BenchRow[]> {
  if (!LIBVIRTD) throw new Error('libvirtd is not installed');
  const daemons: Daemon[] = await Promise.all([
    startLibvirtd({ hostUuid: 'be0c0000-0000-4000-8000-00000000000a' }),
    startLibvirtd({ hostUuid: 'be0c0000-0000-4000-8000-00000000000b' }),
  ]);
  const uris = daemons.map((d) => `qemu+unix:///session?socket=${d.socket}`) as [string, string];
  const conns = (await Promise.all(uris.map((u) => connect(u)))) as [Connection, Connection];
  try {
    // the first use of each daemon's QEMU driver probes the binary: not part of a migration
    await virtkitUs(conns, false);
    const rows: BenchRow[] = [];
    for (const p2p of [false, true]) {
      const us = await virtkitUs(conns, p2p);
      const peer = { name: 'python3-libvirt', us: pythonUs(uris, p2p) };
      const how = p2p ? 'peer-to-peer' : 'managed (Begin3..Confirm3 by the client)';
      rows.push(row(`migrate between two libvirtds, ${how}, diskless 32 MiB (TCG)`, us, peer));
    }
    return rows;
  } finally {
    for (const c of conns) await c.close();
    await Promise.all(daemons.map((d) => d.stop()));
  }
}
