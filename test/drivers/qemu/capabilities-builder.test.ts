import { describe, expect, it } from 'vitest';
import { buildCapabilities, guestFromQemuCaps } from '../../../src/drivers/qemu/caps/capabilities-builder.js';
import { buildQemuCaps, type QemuCaps } from '../../../src/drivers/qemu/probe/qemu-caps.js';
import { validate } from '../../../src/xml/validate.js';

function probe(target: string, kvm: boolean): QemuCaps {
  const machines = [
    { name: 'pc-i440fx-9.1', alias: 'pc', 'is-default': true, 'cpu-max': 255 },
    { name: 'pc-q35-9.1', alias: 'q35', 'cpu-max': 4096, deprecated: false },
    { name: 'none', 'cpu-max': 1 },
  ];
  return buildQemuCaps({
    emulator: `/usr/bin/qemu-system-${target}`,
    version: { qemu: { major: 9, minor: 1, micro: 0 } },
    target: { arch: target },
    kvm: { present: kvm, enabled: kvm },
    accel: { ...(kvm ? { kvm: { machines } } : {}), tcg: { machines } },
  });
}

describe('host capabilities builder', () => {
  it('one guest per binary: wordsize, emulator, machines with their aliases, qemu and kvm domains', () => {
    const g = guestFromQemuCaps(probe('x86_64', true));
    expect(g.osType).toBe('hvm');
    expect(g.arch.wordsize).toBe(64);
    expect(g.arch.emulator).toBe('/usr/bin/qemu-system-x86_64');
    expect(g.arch.machines).toEqual([
      { name: 'pc-i440fx-9.1', maxCpus: 255 },
      { name: 'pc', canonical: 'pc-i440fx-9.1', maxCpus: 255 },
      { name: 'pc-q35-9.1', maxCpus: 4096 },
      { name: 'q35', canonical: 'pc-q35-9.1', maxCpus: 4096 },
    ]);
    expect(g.arch.domains).toEqual([{ type: 'qemu' }, { type: 'kvm' }]);
    expect(guestFromQemuCaps(probe('x86_64', false)).arch.domains).toEqual([{ type: 'qemu' }]);
  });

  it('guest features in libvirt’s order, external snapshots included', () => {
    const x86 = guestFromQemuCaps(probe('x86_64', true)).features?.map((f) => f.name);
    expect(x86).toEqual(['acpi', 'apic', 'cpuselection', 'deviceboot', 'disksnapshot', 'externalSnapshot']);
    const i686 = guestFromQemuCaps(probe('i386', false));
    expect(i686.arch.name).toBe('i686');
    expect(i686.features?.slice(0, 2).map((f) => f.name)).toEqual(['pae', 'nonpae']);
    const arm = guestFromQemuCaps(probe('aarch64', false)).features?.map((f) => f.name);
    expect(arm).toEqual(['acpi', 'cpuselection', 'deviceboot', 'disksnapshot', 'externalSnapshot']);
  });

  it('formats as libvirt does and validates against our schema', async () => {
    const xml = buildCapabilities({ cpu: { arch: 'x86_64' }, powerManagement: {}, iommu: false }, [
      probe('x86_64', true),
    ]).toXML();
    expect(xml).toContain(
      "      <disksnapshot default='on' toggle='no'/>\n      <externalSnapshot/>\n    </features>",
    );
    expect((await validate(xml, 'capability')).errors).toEqual([]);
  });
});
