/**
 * Fleet and per-host CPU call benchmarks beside libvirt:
 *
 * - compare and baseline, parsed inputs and XML in: virtkit's library
 *   functions against python3-libvirt — baselineCPU in process on
 *   test:///default, compareCPU on a private libvirtd's QEMU driver (the
 *   only in-process peer, qemu:///embed, needs the system's libvirt-qemu
 *   user, so this peer pays one local RPC per call; the note says so);
 * - the QEMU driver's calls (qemu:/// in process) against the same
 *   libvirtd's compareCPU / compareHypervisorCPU;
 * - planFleet: 100 guests × the 45 real host CPUs of libvirt's cputest data
 *   (the target: under 100 ms), with and without the "what if"
 *   answers, and from XML.
 *
 * Inputs come from ../shared/conformance (skipped when it is absent).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CpuDef } from '../src/conf/cpu.js';
import { connect } from '../src/connection.js';
import { baselineCpu, compareCpu, planFleet } from '../src/cpu/index.js';
import { type Daemon, startLibvirtd } from '../test/drivers/remote/libvirtd.js';
import { type BenchRow, hasPythonLibvirt, measure, pythonMedianUs, row } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));

function casesDir(): string | undefined {
  const candidates = [
    process.env.VIRTKIT_CONFORMANCE_DIR,
    join(here, '../../shared/conformance'),
    join(here, '../../../shared/conformance'),
  ];
  for (const c of candidates) if (c && existsSync(join(c, 'cpu/cases'))) return join(c, 'cpu/cases');
  return undefined;
}

/** Host CPUs old enough for the installed libvirt's CPU map (classic models, no -vN). */
const PEER_HOSTS = [
  "<cpu><arch>x86_64</arch><model>Westmere</model><vendor>Intel</vendor><feature name='avx'/><feature name='invtsc'/></cpu>",
  "<cpu><arch>x86_64</arch><model>Nehalem</model><vendor>Intel</vendor><feature name='aes'/></cpu>",
  "<cpu><arch>x86_64</arch><model>SandyBridge</model><vendor>Intel</vendor><feature name='vmx'/></cpu>",
  '<cpu><arch>x86_64</arch><model>IvyBridge</model><vendor>Intel</vendor></cpu>',
  '<cpu><arch>x86_64</arch><model>Haswell-noTSX</model><vendor>Intel</vendor></cpu>',
  '<cpu><arch>x86_64</arch><model>Broadwell-noTSX</model><vendor>Intel</vendor></cpu>',
  '<cpu><arch>x86_64</arch><model>Skylake-Client</model><vendor>Intel</vendor></cpu>',
  '<cpu><arch>x86_64</arch><model>Penryn</model><vendor>Intel</vendor></cpu>',
];
const GUEST =
  "<cpu mode='custom' match='exact'><model>Westmere</model><feature policy='require' name='aes'/></cpu>";

async function libraryRows(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const host = CpuDef.fromXML(PEER_HOSTS[0] as string);
  const guest = CpuDef.fromXML(GUEST);
  const parsed8 = PEER_HOSTS.map((x) => CpuDef.fromXML(x));
  const baseline8 = pythonMedianUs(
    `c = libvirt.open('test:///default')\nxmls = ${JSON.stringify(PEER_HOSTS)}`,
    'c.baselineCPU(xmls, 0)',
  );
  const peer = { name: 'python3-libvirt baselineCPU (test:///default, in process)', us: baseline8 };
  rows.push(row('baselineCpu of 8 host CPUs (parsed)', await measure(() => baselineCpu(parsed8)), peer));
  rows.push(
    row(
      'baselineCpu of 8 host CPUs (XML in, XML out)',
      await measure(() => baselineCpu(PEER_HOSTS).toXML()),
      peer,
    ),
  );
  rows.push({
    ...row('compareCpu (parsed host and guest)', await measure(() => compareCpu(host, guest))),
    note: 'peer below (qemu driver rows)',
  });
  rows.push(row('compareCpu (XML in)', await measure(() => compareCpu(PEER_HOSTS[0] as string, GUEST))));
  return rows;
}

/** compareCPU / compareHypervisorCPU: our qemu:/// in process against libvirtd's QEMU driver. */
async function driverRows(): Promise<BenchRow[]> {
  if (!hasPythonLibvirt() || !existsSync('/usr/sbin/libvirtd')) return [];
  let daemon: Daemon | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'vk-bench-fleet-'));
  try {
    daemon = await startLibvirtd();
    const uri = `qemu+unix:///session?socket=${daemon.socket}`;
    const setup = `c = libvirt.open(${JSON.stringify(uri)})\nx = ${JSON.stringify(GUEST)}\nc.getCapabilities()`;
    const cmpPeer = pythonMedianUs(setup, 'c.compareCPU(x, 0)', 1000);
    const hvPeer = pythonMedianUs(setup, "c.compareHypervisorCPU(None, 'x86_64', None, 'qemu', x, 0)", 1000);
    const remote = await connect(uri);
    const hostCpu = (await remote.getCapabilities()).host.cpu;
    await remote.close();
    const libHost = new CpuDef(hostCpu);
    const guest = CpuDef.fromXML(GUEST);
    const note =
      'the peer pays one local RPC per call (no in-process QEMU driver without the system libvirt-qemu user)';
    const rows: BenchRow[] = [];
    rows.push({
      ...row(
        "compareCpu, library, parsed (libvirtd's host CPU)",
        await measure(() => compareCpu(libHost, guest)),
        {
          name: 'python3-libvirt compareCPU (libvirtd qemu:///session)',
          us: cmpPeer,
        },
      ),
      note,
    });
    const ours = await connect('qemu:///session', {
      driverOptions: {
        cacheDir: join(dir, 'cache'),
        runDir: join(dir, 'run'),
        stateDir: join(dir, 'state'),
        configDir: join(dir, 'config'),
        logDir: join(dir, 'log'),
        emulators: ['/usr/bin/qemu-system-x86_64'],
      },
    });
    try {
      await ours.compareHypervisorCpu(GUEST, { virttype: 'qemu' });
      rows.push({
        ...row('qemu:/// compareCpu (XML in)', await measure(() => ours.compareCpu(GUEST)), {
          name: 'python3-libvirt compareCPU (libvirtd qemu:///session)',
          us: cmpPeer,
        }),
        note,
      });
      rows.push({
        ...row(
          'qemu:/// compareHypervisorCpu (XML in, TCG)',
          await measure(() => ours.compareHypervisorCpu(GUEST, { virttype: 'qemu' })),
          { name: 'python3-libvirt compareHypervisorCPU (libvirtd, qemu)', us: hvPeer },
        ),
        note,
      });
    } finally {
      await ours.close();
    }
    return rows;
  } finally {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function planRows(dir: string): Promise<BenchRow[]> {
  const hostFiles = readdirSync(dir)
    .filter((f) => /^x86_64-cpuid-.*-host\.xml$/.test(f))
    .sort();
  const guestFiles = readdirSync(dir)
    .filter((f) => /^x86_64-cpuid-.*-guest\.xml$/.test(f))
    .sort();
  const hostXml = hostFiles.map((f) => ({ name: f, cpu: readFileSync(join(dir, f), 'utf8') }));
  const hosts = hostXml.map((h) => ({ name: h.name, cpu: CpuDef.fromXML(h.cpu) }));
  const guestXml: { name: string; guest: string }[] = [];
  for (let i = 0; guestXml.length < 100; i++) {
    const f = guestFiles[i % guestFiles.length] as string;
    guestXml.push({ name: `${i}-${f}`, guest: readFileSync(join(dir, f), 'utf8') });
  }
  const guests = guestXml.map((g) => ({ name: g.name, guest: CpuDef.fromXML(g.guest) }));
  const size = `${guests.length} guests × ${hosts.length} hosts`;
  const opts = { iterations: 20, warmup: 3, minTimeMs: 1000 };
  return [
    row(
      `planFleet ${size}, parsed, matrix only`,
      await measure(() => planFleet({ hosts, guests, options: { whatIf: false } }), opts),
    ),
    row(`planFleet ${size}, parsed, with what-if`, await measure(() => planFleet({ hosts, guests }), opts)),
    row(
      `planFleet ${size}, XML in, matrix only`,
      await measure(() => planFleet({ hosts: hostXml, guests: guestXml, options: { whatIf: false } }), opts),
    ),
  ];
}

export async function run(): Promise<BenchRow[]> {
  const rows = await libraryRows();
  rows.push(...(await driverRows()));
  const dir = casesDir();
  if (dir) rows.push(...(await planRows(dir)));
  else rows.push(row('planFleet skipped: no ../shared/conformance/cpu/cases', 0));
  return rows;
}
