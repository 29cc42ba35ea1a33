/**
 * A small QemuCaps written for these tests: QEMU 10.0 on x86_64 with the
 * machine facts `query-machines` gives for pc and q35 (names, aliases,
 * default CPU type, RAM backend id), enough to exercise defaults and the
 * command line without ../shared.
 */
import type { QemuCaps, QemuMachineType } from '../../../src/drivers/qemu/probe/qemu-caps.js';

const machine = (name: string, alias: string | undefined, isDefault: boolean): QemuMachineType => ({
  name,
  ...(alias ? { alias } : {}),
  isDefault,
  maxCpus: 255,
  hotplugCpus: true,
  numaMemSupported: false,
  deprecated: false,
  defaultCpuType: 'qemu64-x86_64-cpu',
  defaultRamId: 'pc.ram',
  acpi: true,
});

export function fixtureCaps(overrides: Partial<QemuCaps> = {}): QemuCaps {
  const machines = [machine('pc-i440fx-10.0', 'pc', true), machine('pc-q35-10.0', 'q35', false)];
  return {
    format: 1,
    emulator: '/usr/bin/qemu-system-x86_64',
    arch: 'x86_64',
    version: { major: 10, minor: 0, micro: 0 },
    versionNumber: 10_000_000,
    package: '',
    kvm: { present: false, enabled: false },
    commands: [],
    events: [],
    displayTypes: [],
    netdevTypes: ['user'],
    qomTypes: [],
    typeProps: {},
    tpm: { models: [], types: [] },
    commandLineOptions: {},
    migrationCapabilities: [],
    sev: null,
    sgx: null,
    accel: { tcg: { machines, cpuModels: [] } },
    ...overrides,
  };
}

/** Escapes text for an XML attribute or element. */
export function xmlEscape(v: string): string {
  return v
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/'/g, '&apos;')
    .replace(/"/g, '&quot;')
    .replace(/\n/g, '&#10;');
}

export function tinyDomainXml(
  opts: { name?: string; machine?: string; devices?: string; type?: string } = {},
): string {
  return `<domain type='${opts.type ?? 'qemu'}'>
  <name>${xmlEscape(opts.name ?? 'tiny')}</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='${opts.machine ?? 'pc'}'>hvm</type></os>
  <devices>${opts.devices ?? ''}</devices>
</domain>`;
}
