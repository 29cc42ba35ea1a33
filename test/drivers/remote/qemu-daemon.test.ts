/**
 * The remote driver to the QEMU driver of a real libvirtd (`qemu+unix:///session`
 * on a private daemon, which probes the installed QEMU itself), against
 * python3-libvirt on the same daemon: the capabilities, domain capabilities
 * and CPU calls that only a real hypervisor driver answers.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Capabilities } from '../../../src/conf/capabilities.js';
import { type Connection, connect } from '../../../src/connection.js';
import { RemoteConnection } from '../../../src/drivers/remote/remote-connection.js';
import { parseUri } from '../../../src/uri.js';
import { type Daemon, LIBVIRTD, LIBVIRTD_QEMU_DRIVER, PYTHON_LIBVIRT, startLibvirtd } from './libvirtd.js';

const QEMU = existsSync('/usr/bin/qemu-system-x86_64');
const ready = Boolean(LIBVIRTD && PYTHON_LIBVIRT && LIBVIRTD_QEMU_DRIVER && QEMU);
if (!ready) {
  console.warn(
    'skipping remote QEMU driver tests: they need libvirtd with its QEMU driver (libvirt-daemon-driver-qemu), ' +
      'qemu-system-x86_64 and python3-libvirt',
  );
}

const CPU = "<cpu><arch>x86_64</arch><model fallback='forbid'>qemu64</model></cpu>";
const CPU2 = "<cpu><arch>x86_64</arch><model fallback='forbid'>core2duo</model></cpu>";

describe.skipIf(!ready)('remote driver to the QEMU driver of a real libvirtd', () => {
  let daemon: Daemon;
  let uri: string;
  let conn: Connection;
  let remote: RemoteConnection;
  let ref: {
    type: string;
    caps: string;
    domcaps: string;
    compare: number;
    compareHv: number;
    baselineHv: string;
    baselineHvExpand: string;
  };

  beforeAll(async () => {
    daemon = await startLibvirtd();
    uri = `qemu+unix:///session?socket=${daemon.socket}`;
    const script = `import json, sys, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
cpu, cpu2 = sys.argv[2], sys.argv[3]
print(json.dumps({
  'type': c.getType(),
  'caps': c.getCapabilities(),
  'domcaps': c.getDomainCapabilities(None, 'x86_64', None, 'qemu', 0),
  'compare': c.compareCPU(cpu, 0),
  'compareHv': c.compareHypervisorCPU(None, 'x86_64', None, 'qemu', cpu, 0),
  'baselineHv': c.baselineHypervisorCPU(None, 'x86_64', None, 'qemu', [cpu, cpu2], 0),
  'baselineHvExpand': c.baselineHypervisorCPU(None, 'x86_64', None, 'qemu', [cpu, cpu2],
                                              libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES),
}))`;
    // the daemon probes QEMU on first use: python's open pays for it, once
    ref = JSON.parse(
      execFileSync(PYTHON_LIBVIRT!, ['-c', script, uri, CPU, CPU2], { encoding: 'utf8', timeout: 60_000 }),
    ) as typeof ref;
    conn = await connect(uri);
    remote = await RemoteConnection.open(parseUri(uri), { readonly: false });
  }, 90_000);

  afterAll(async () => {
    await conn?.close();
    await remote?.close();
    await daemon?.stop();
  });

  it('opens the daemon-side QEMU driver', () => {
    expect(ref.type).toBe('QEMU');
    expect(conn.type).toBe(ref.type);
  });

  it('returns the capabilities as the typed model, equal to what libvirt sent', async () => {
    expect(await remote.getCapabilitiesXml()).toBe(ref.caps);
    const caps = await conn.getCapabilities();
    expect(caps).toBeInstanceOf(Capabilities);
    const parsed = Capabilities.fromXML(ref.caps);
    expect(caps.host.cpu.arch).toBe(parsed.host.cpu.arch);
    expect(caps.findGuests({ arch: 'x86_64' }).map((g) => g.arch.emulator)).toContain(
      '/usr/bin/qemu-system-x86_64',
    );
    expect(caps.toXML()).toBe(parsed.toXML());
  });

  it('returns the same domain capabilities', async () => {
    expect(await conn.getDomainCapabilities({ arch: 'x86_64', virttype: 'qemu' })).toBe(ref.domcaps);
  });

  it('compares and baselines CPUs as libvirt does, host and hypervisor variants', async () => {
    const names = ['incompatible', 'identical', 'superset'];
    expect(await conn.compareCpu(CPU)).toBe(names[ref.compare]);
    const hvQuery = { arch: 'x86_64', virttype: 'qemu' };
    expect(await conn.compareHypervisorCpu(CPU, hvQuery)).toBe(names[ref.compareHv]);
    expect(await conn.baselineHypervisorCpu([CPU, CPU2], hvQuery)).toBe(ref.baselineHv);
    expect(await conn.baselineHypervisorCpu([CPU, CPU2], { ...hvQuery, expandFeatures: true })).toBe(
      ref.baselineHvExpand,
    );
    await expect(conn.baselineHypervisorCpu([])).rejects.toMatchObject({ code: 'INVALID_ARG' });
  });
});
