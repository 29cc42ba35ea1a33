/**
 * QEMU driver part 1: probing a real binary cold, capabilities from the
 * disk cache and from memory, domain capabilities.
 *
 * Peer: python3-libvirt against a libvirt session daemon started for this
 * run in a private HOME. As root, `qemu:///session` means the system daemon
 * (which needs system-wide configuration), so the peer runs as `nobody`
 * through setpriv: that daemon has no KVM, so the comparable virtkit rows use
 * TCG only too. The daemon is stopped through its pid file afterwards.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/connection.js';
import { buildDomainCapabilities } from '../src/drivers/qemu/caps/domain-caps-builder.js';
import { findEmulators } from '../src/drivers/qemu/caps/host-facts.js';
import { QemuCapsCache } from '../src/drivers/qemu/probe/caps-cache.js';
import { kvmUsable, probeQemu } from '../src/drivers/qemu/probe/probe.js';
import { type BenchRow, hasCommand, hasPythonLibvirt, measure, row } from './harness.js';

const QEMU = '/usr/bin/qemu-system-x86_64';

export async function run(): Promise<BenchRow[]> {
  if (!existsSync(QEMU)) return [{ name: `skipped: ${QEMU} not installed`, virtkitUs: 0 }];
  const rows: BenchRow[] = [];
  const work = mkdtempSync(join(tmpdir(), 'virtkit-bench-qemu-'));
  const peer = libvirtSessionPeer();
  try {
    const kvm = await kvmUsable();
    const slow = { warmup: 1, iterations: 5, minTimeMs: 0 };
    rows.push(
      row(
        `probe ${QEMU} cold (${kvm ? 'KVM + TCG processes in parallel' : 'TCG'})`,
        await measure(() => probeQemu(QEMU, { runDir: work }), slow),
      ),
    );
    rows.push(
      row(
        `probe ${QEMU} cold, TCG only`,
        await measure(() => probeQemu(QEMU, { runDir: work, kvm: false }), slow),
      ),
    );

    // First getCapabilities of a fresh connection with an empty cache: every emulator is probed.
    const emulators = await findEmulators();
    let n = 0;
    const firstCall = await measure(
      async () => {
        const c = await connect('qemu:///session', {
          driverOptions: { cacheDir: join(work, `cold-${n++}`), runDir: work, kvm: false },
        });
        await c.getCapabilities();
        await c.close();
      },
      { warmup: 0, iterations: 3, minTimeMs: 0 },
    );
    rows.push(
      row(`connect + first getCapabilities, empty cache, ${emulators.length} emulators, TCG`, firstCall, {
        name: 'python3-libvirt first getCapabilities (fresh session daemon, TCG)',
        us: peer?.firstCapsUs,
      }),
    );

    const cacheDir = join(work, 'cache');
    await new QemuCapsCache({ dir: cacheDir, probe: { runDir: work } }).get(QEMU);
    rows.push(
      row(
        'caps from the disk cache (new cache object: stat + read + JSON.parse)',
        await measure(() => new QemuCapsCache({ dir: cacheDir, probe: { runDir: work } }).get(QEMU), {
          warmup: 5,
          iterations: 50,
        }),
      ),
    );

    const conn = await connect('qemu:///session', {
      driverOptions: { cacheDir: join(work, 'warm'), runDir: work, kvm: false },
    });
    await conn.getCapabilities();
    rows.push(
      row('getCapabilities warm (Capabilities object)', await measure(() => conn.getCapabilities()), {
        name: 'python3-libvirt getCapabilities (session daemon, TCG)',
        us: peer?.capsUs,
      }),
    );
    rows.push(
      row('getCapabilities warm + toXML', await measure(async () => (await conn.getCapabilities()).toXML()), {
        name: 'python3-libvirt getCapabilities (session daemon, TCG)',
        us: peer?.capsUs,
      }),
    );
    await conn.getDomainCapabilities({ arch: 'x86_64', virttype: 'qemu' });
    rows.push(
      row(
        'getDomainCapabilities x86_64/qemu warm (XML)',
        await measure(() => conn.getDomainCapabilities({ arch: 'x86_64', virttype: 'qemu' })),
        { name: 'python3-libvirt getDomainCapabilities (session daemon, TCG)', us: peer?.domCapsUs },
      ),
    );
    await conn.close();

    const caps = (await new QemuCapsCache({ dir: cacheDir, probe: { runDir: work } }).get(QEMU)).caps;
    rows.push(
      row(
        'build domain capabilities q35/TCG from QemuCaps (uncached) + toXML',
        await measure(() => buildDomainCapabilities(caps, { virttype: 'qemu', machine: 'q35' }).toXML()),
      ),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
}

interface PeerNumbers {
  firstCapsUs: number;
  capsUs: number;
  domCapsUs: number;
}

/** Runs the python3-libvirt side as `nobody` against a session daemon of its own. */
function libvirtSessionPeer(): PeerNumbers | undefined {
  if (process.getuid?.() !== 0 || !hasCommand('setpriv') || !hasPythonLibvirt()) return undefined;
  const home = mkdtempSync(join(tmpdir(), 'virtkit-bench-libvirt-'));
  chmodSync(home, 0o777);
  const run = join(home, 'run');
  const script = `
import libvirt, time, json, statistics
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open('qemu:///session')
t = time.perf_counter(); c.getCapabilities(); first = (time.perf_counter() - t) * 1e6
def med(f, n):
    for _ in range(20): f()
    s = []
    for _ in range(n):
        t = time.perf_counter(); f(); s.append((time.perf_counter() - t) * 1e6)
    return statistics.median(s)
caps = med(lambda: c.getCapabilities(), 200)
dom = med(lambda: c.getDomainCapabilities(None, 'x86_64', None, 'qemu'), 500)
print(json.dumps({'firstCapsUs': first, 'capsUs': caps, 'domCapsUs': dom}))
c.close()
`;
  try {
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        'env',
        `HOME=${home}`,
        `XDG_RUNTIME_DIR=${run}`,
        'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
        '/usr/bin/python3',
        '-c',
        script,
      ],
      { encoding: 'utf8', timeout: 180_000, cwd: home },
    );
    const line = r.stdout.trim().split('\n').pop();
    return line ? (JSON.parse(line) as PeerNumbers) : undefined;
  } catch {
    return undefined;
  } finally {
    stopDaemon(join(run, 'libvirt/libvirtd.pid'));
    rmSync(home, { recursive: true, force: true });
  }
}

function stopDaemon(pidFile: string): void {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 1) process.kill(pid, 'SIGTERM');
  } catch {
    // no daemon was started
  }
}
