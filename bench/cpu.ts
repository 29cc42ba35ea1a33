/**
 * CPU engine benchmarks: compare, baseline of 2 and 8 real host CPUs,
 * policy resolution, CPUID decoding and the QEMU -cpu string. The peer is
 * python3-libvirt's baselineCPU on test:///default (the test driver has no
 * compareCPU, so compare has no peer row). Inputs are host CPUs decoded from
 * the CPUID data in ../shared/conformance (skipped when it is absent),
 * restricted to model names the installed libvirt knows.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CpuDef } from '../src/conf/cpu.js';
import { CpuData } from '../src/conf/cpu-data.js';
import {
  baselineCpu,
  compareCpu,
  decodeCpuData,
  qemuCpuArg,
  resolveGuestCpu,
  x86Database,
} from '../src/cpu/index.js';
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

/** Which of `xmls` python3-libvirt can baseline on its own (its CPU map may be older than ours). */
function acceptedByLibvirt(xmls: string[]): boolean[] | undefined {
  if (!hasPythonLibvirt()) return undefined;
  const script = `
import libvirt, json, sys
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open('test:///default')
out = []
for x in json.load(sys.stdin):
    try:
        c.baselineCPU([x], 0); out.append(True)
    except libvirt.libvirtError:
        out.append(False)
print(json.dumps(out))
`;
  return spawnJson(script, JSON.stringify(xmls)) as boolean[] | undefined;
}

function spawnJson(script: string, input: string): unknown {
  const r = spawnSync('/usr/bin/python3', ['-c', script], { input, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) return undefined;
  return JSON.parse(r.stdout);
}

export async function run(): Promise<BenchRow[]> {
  const dir = casesDir();
  if (!dir) return [row('cpu benchmarks skipped: no ../shared/conformance/cpu/cases', 0)];
  const db = x86Database();
  // Classic model names only (no -vN aliases), so an older libvirt can read the CPUs too.
  const classic = db.models.filter((m) => !/-v\d+$/.test(m.name)).map((m) => m.name);
  const dataFiles = readdirSync(dir)
    .filter(
      (f) =>
        /^x86_64-cpuid-.*\.xml$/.test(f) &&
        !/-(host|guest|json|enabled|disabled)\.xml$/.test(f) &&
        !f.includes('-baseline-'),
    )
    .sort();
  const hosts: CpuDef[] = [];
  for (const f of dataFiles) {
    const data = CpuData.fromXML(readFileSync(join(dir, f), 'utf8'));
    try {
      const host = decodeCpuData(data, { kind: 'host', models: classic });
      if (host.vendor === 'Intel') hosts.push(host);
    } catch {
      // Data no classic model describes without disabled features: not a bench input.
    }
  }
  const xmls = hosts.map((h) => h.toXML());
  const accepted = acceptedByLibvirt(xmls);
  const usable = accepted ? xmls.filter((_, i) => accepted[i]) : xmls;
  const two = usable.slice(0, 2);
  const eight = usable.slice(0, 8);
  const rows: BenchRow[] = [];

  const h0 = CpuDef.fromXML(two[0] ?? '');
  const h1 = CpuDef.fromXML(two[1] ?? two[0] ?? '');
  const b2 = baselineCpu([h0, h1]);
  const noComparePeer = "no peer: libvirt's test driver has no compareCPU";
  rows.push({
    ...row('compareCpu (parsed host vs baseline guest)', await measure(() => compareCpu(h0, b2))),
    note: noComparePeer,
  });
  const b2xml = b2.toXML();
  rows.push({
    ...row('compareCpu (XML strings in)', await measure(() => compareCpu(two[0] ?? '', b2xml))),
    note: `${noComparePeer}; most of the time is XML parsing`,
  });

  for (const set of [two, eight]) {
    const parsed = set.map((x) => CpuDef.fromXML(x));
    rows.push(
      row(`baselineCpu of ${set.length} host CPUs (parsed)`, await measure(() => baselineCpu(parsed))),
    );
    const libvirt = pythonMedianUs(
      `c = libvirt.open('test:///default')\nxmls = ${JSON.stringify(set)}`,
      'c.baselineCPU(xmls, 0)',
      2000,
    );
    rows.push(
      row(
        `baselineCpu of ${set.length} host CPUs (XML in, XML out)`,
        await measure(() => baselineCpu(set).toXML()),
        {
          name: 'python3-libvirt baselineCPU (test:///default)',
          us: libvirt,
        },
      ),
    );
  }
  const libvirtExpand = pythonMedianUs(
    `c = libvirt.open('test:///default')\nxmls = ${JSON.stringify(two)}`,
    'c.baselineCPU(xmls, libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)',
    2000,
  );
  rows.push(
    row(
      'baselineCpu of 2, expandFeatures (XML in, XML out)',
      await measure(() => baselineCpu(two, { expandFeatures: true }).toXML()),
      { name: 'python3-libvirt baselineCPU expand (test:///default)', us: libvirtExpand },
    ),
  );

  const guest = CpuDef.fromXML(
    `<cpu mode='custom' match='exact'><model>${b2.model?.name ?? 'Penryn'}</model><feature policy='optional' name='vmx'/><feature policy='disable' name='ht'/></cpu>`,
  );
  rows.push(
    row(
      'resolveGuestCpu (per-feature reasons)',
      await measure(() => resolveGuestCpu(guest, h0, { allowViolations: true })),
    ),
  );
  const resolved = resolveGuestCpu(guest, h0, { allowViolations: true });
  rows.push(row('qemuCpuArg', await measure(() => qemuCpuArg(resolved))));

  const cpuidFile = dataFiles.find((f) => f.includes('Xeon-Platinum-8268')) ?? dataFiles[0] ?? '';
  const cpuidXml = readFileSync(join(dir, cpuidFile), 'utf8');
  const cpuid = CpuData.fromXML(cpuidXml);
  rows.push(
    row(`CPUID decode to host CPU (${cpuidFile}, parsed)`, await measure(() => decodeCpuData(cpuid))),
  );
  rows.push(row('CPUID decode, XML in', await measure(() => decodeCpuData(cpuidXml))));
  return rows;
}
