/**
 * The per-host CPU calls of qemu:/// against libvirt's QEMU driver on the
 * same machine: a private libvirtd (run as `nobody`, so TCG) answers
 * compareCPU, baselineCPU, compareHypervisorCPU and baselineHypervisorCPU
 * through python3-libvirt for the same inputs, and our driver, probing the
 * same QEMU, must give the same answers.
 *
 * The installed libvirt (9.0) is older than the rules we follow (11.3): it
 * compares every model with the host-model CPU where 11.3 first accepts a
 * model QEMU reports usable, so the inputs here are models whose answer
 * both rules agree on. Baselines are compared as sets of features: the two
 * CPU maps list features in different orders.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuDef } from '../../../src/conf/cpu.js';
import { type Connection, connect } from '../../../src/connection.js';
import {
  type Daemon,
  LIBVIRTD,
  LIBVIRTD_QEMU_DRIVER,
  PYTHON_LIBVIRT,
  startLibvirtd,
} from '../../drivers/remote/libvirtd.js';

const QEMU_BINARY = '/usr/bin/qemu-system-x86_64';
const ready = Boolean(LIBVIRTD && PYTHON_LIBVIRT && LIBVIRTD_QEMU_DRIVER && existsSync(QEMU_BINARY));

const CPUS = [
  "<cpu><arch>x86_64</arch><model fallback='forbid'>qemu64</model></cpu>",
  "<cpu mode='custom' match='exact'><model>Nehalem</model></cpu>",
  "<cpu mode='custom' match='exact'><model>Haswell-noTSX</model></cpu>",
  "<cpu mode='custom' match='exact'><model>Skylake-Client</model></cpu>",
  "<cpu mode='custom' match='exact'><model>EPYC</model></cpu>",
  "<cpu mode='custom' match='exact'><model>qemu64</model><feature policy='require' name='avx2'/></cpu>",
  "<cpu mode='custom' match='exact'><model>Westmere</model><feature policy='disable' name='aes'/></cpu>",
  "<cpu mode='custom' match='exact'><model>Opteron_G2</model><feature policy='forbid' name='sse2'/></cpu>",
  "<cpu mode='host-model'/>",
  "<cpu mode='host-passthrough'/>",
  "<cpu><arch>x86_64</arch><model>Westmere</model><vendor>Intel</vendor><feature name='avx'/></cpu>",
];
const HOSTS = [
  "<cpu><arch>x86_64</arch><model>Westmere</model><vendor>Intel</vendor><feature name='avx'/><feature name='invtsc'/></cpu>",
  "<cpu><arch>x86_64</arch><model>Nehalem</model><vendor>Intel</vendor><feature name='aes'/></cpu>",
  '<cpu><arch>x86_64</arch><model>core2duo</model><vendor>Intel</vendor></cpu>',
];

interface Ref {
  compare: (number | string)[];
  compareHv: (number | string)[];
  baseline: string[];
  baselineHv: string[];
}

/** A CPU as a comparable value: mode, model, fallback, vendor, features by name with their policy. */
function shape(xml: string) {
  const c = CpuDef.fromXML(xml);
  return {
    mode: c.mode,
    match: c.match,
    model: c.model?.name,
    fallback: c.model?.fallback,
    vendor: c.vendor,
    features: (c.features ?? []).map((f) => `${f.policy ?? ''}:${f.name}`).sort(),
  };
}

describe.skipIf(!ready)('qemu:/// CPU calls beside libvirt’s QEMU driver', () => {
  let daemon: Daemon;
  let conn: Connection;
  let ref: Ref;
  let dir: string;
  const names = ['incompatible', 'identical', 'superset'];
  const hv = { arch: 'x86_64', virttype: 'qemu' };
  const flagSets = [{}, { migratable: true }, { expandFeatures: true }] as const;

  beforeAll(async () => {
    daemon = await startLibvirtd();
    const uri = `qemu+unix:///session?socket=${daemon.socket}`;
    const script = `import json, sys, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
cpus, hosts = json.loads(sys.argv[2]), json.loads(sys.argv[3])
def t(f):
    try:
        return f()
    except libvirt.libvirtError as e:
        return 'error %d' % e.get_error_code()
flags = [0, libvirt.VIR_CONNECT_BASELINE_CPU_MIGRATABLE, libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES]
print(json.dumps({
  'compare': [t(lambda: c.compareCPU(x, 0)) for x in cpus],
  'compareHv': [t(lambda: c.compareHypervisorCPU(None, 'x86_64', None, 'qemu', x, 0)) for x in cpus],
  'baseline': [t(lambda: c.baselineCPU(hosts, f)) for f in flags],
  'baselineHv': [t(lambda: c.baselineHypervisorCPU(None, 'x86_64', None, 'qemu', hosts[1:], f)) for f in flags],
}))`;
    ref = JSON.parse(
      execFileSync(
        PYTHON_LIBVIRT as string,
        ['-c', script, uri, JSON.stringify(CPUS), JSON.stringify(HOSTS)],
        {
          encoding: 'utf8',
          timeout: 120_000,
        },
      ),
    ) as Ref;
    dir = mkdtempSync(join(tmpdir(), 'vk-cpu-calls-'));
    conn = await connect('qemu:///session', {
      driverOptions: {
        cacheDir: join(dir, 'cache'),
        runDir: join(dir, 'run'),
        stateDir: join(dir, 'state'),
        configDir: join(dir, 'config'),
        logDir: join(dir, 'log'),
        emulators: [QEMU_BINARY],
      },
    });
  }, 180_000);

  afterAll(async () => {
    await conn?.close();
    await daemon?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('compareCpu: against the host CPU of the capabilities', async () => {
    const ours: string[] = [];
    for (const x of CPUS) ours.push(await conn.compareCpu(x));
    expect(ours).toEqual(ref.compare.map((r) => (typeof r === 'number' ? names[r] : r)));
  });

  it('compareHypervisorCpu: against what QEMU can give a guest', async () => {
    const ours: string[] = [];
    for (const x of CPUS) ours.push(await conn.compareHypervisorCpu(x, hv));
    expect(ours).toEqual(ref.compareHv.map((r) => (typeof r === 'number' ? names[r] : r)));
  });

  it('baselineCpu: with and without migratable and expanded features', async () => {
    for (const [i, flags] of flagSets.entries()) {
      const ours = await conn.baselineCpu(HOSTS, flags);
      expect(shape(ours), JSON.stringify(flags)).toEqual(shape(ref.baseline[i] as string));
    }
  });

  it('baselineHypervisorCpu: QEMU’s models and features, fallback forbidden', async () => {
    for (const [i, flags] of flagSets.entries()) {
      const ours = await conn.baselineHypervisorCpu(HOSTS.slice(1), { ...hv, ...flags });
      expect(shape(ours), JSON.stringify(flags)).toEqual(shape(ref.baselineHv[i] as string));
    }
  });

  it('refuses a bad virttype and an unknown model with typed errors', async () => {
    await expect(conn.compareHypervisorCpu(CPUS[0] as string, { virttype: 'xen' })).rejects.toMatchObject({
      code: 'INVALID_ARG',
    });
    await expect(
      conn.compareCpu("<cpu mode='custom' match='exact'><model>NoSuchModel</model></cpu>"),
    ).rejects.toMatchObject({ code: 'INVALID_ARG' });
  });
});
