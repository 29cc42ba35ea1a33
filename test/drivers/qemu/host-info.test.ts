import { accessSync, constants, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Capabilities } from '../../../src/conf/capabilities.js';
import {
  parseCpuinfo,
  parseCpuList,
  readCpuidLeaves,
  readHostInfo,
} from '../../../src/drivers/qemu/caps/host-info.js';
import { validate } from '../../../src/xml/validate.js';
import { fixture } from '../../shared-data.js';

const CPUID_READABLE = (() => {
  try {
    accessSync('/dev/cpu/0/cpuid', constants.R_OK);
    return true;
  } catch {
    return false;
  }
})();

// libvirt 9.0 on this machine (fixtures/capabilities/README.md)
const LIBVIRT_HOST = Capabilities.fromXML(
  readFileSync(fixture('capabilities/qemu-session-x86_64.xml'), 'utf8'),
).host;
const cpuinfo = parseCpuinfo(readFileSync('/proc/cpuinfo', 'utf8'));
const SAME_CPU =
  CPUID_READABLE &&
  Number(cpuinfo.get('cpu family')) === LIBVIRT_HOST.cpu.signature?.family &&
  Number(cpuinfo.get('model')) === LIBVIRT_HOST.cpu.signature?.model;

describe('host facts', () => {
  it('reads CPU lists and the first /proc/cpuinfo block', () => {
    expect(parseCpuList('0-3,8,10-11\n')).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseCpuList('')).toEqual([]);
    const info = parseCpuinfo(
      'processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\n\nprocessor\t: 1\n',
    );
    expect(info.get('vendor_id')).toBe('AuthenticAMD');
    expect(info.get('processor')).toBe('0');
  });

  it('describes the host with what /proc and /sys say, valid against our schema', async () => {
    const host = await readHostInfo();
    expect(host.cpu.arch).toBe('x86_64');
    const nproc = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm)?.length ?? 0;
    const t = host.cpu.topology;
    if (t) expect(t.sockets * (t.dies ?? 1) * t.cores * t.threads).toBe(nproc);
    const v = await validate(new Capabilities({ host }).toXML(), 'capability');
    expect(v.errors).toEqual([]);
  });

  it('has no CPUID data without the device', async () => {
    expect(await readCpuidLeaves('/nonexistent/cpuid')).toBeUndefined();
  });
});

describe.skipIf(!SAME_CPU)(
  `host CPU decoded from CPUID like libvirt did on this machine${SAME_CPU ? '' : ' (skipped: needs /dev/cpu/0/cpuid on the fixture host)'}`,
  () => {
    it('same vendor, signature, model family and every feature libvirt 9 listed', async () => {
      const host = await readHostInfo();
      expect(host.cpu.vendor).toBe(LIBVIRT_HOST.cpu.vendor);
      expect(host.cpu.signature).toEqual(LIBVIRT_HOST.cpu.signature);
      expect(host.cpu.microcode).toBe(LIBVIRT_HOST.cpu.microcode);
      // libvirt 11's map (ours) adds versioned models (kvm64-v1) and three newer AMD feature names
      expect(host.cpu.model?.name?.replace(/-v\d+$/, '')).toBe(LIBVIRT_HOST.cpu.model?.name);
      const ours = new Set(host.cpu.features?.map((f) => f.name));
      for (const f of LIBVIRT_HOST.cpu.features ?? []) expect(ours.has(f.name), f.name).toBe(true);
      expect(ours.size - (LIBVIRT_HOST.cpu.features?.length ?? 0)).toBeLessThanOrEqual(3);
    });
  },
);
