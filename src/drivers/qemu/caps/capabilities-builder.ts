/**
 * The host capabilities document from the host section and one probed
 * {@link QemuCaps} per emulator: a `<guest>` per binary with its machines
 * (aliases as `canonical` entries), `qemu` always and `kvm` when usable.
 *
 * @module
 */
import { Capabilities, type CapsGuest, type CapsHost, type CapsMachine } from '../../../conf/capabilities.js';
import type { QemuCaps } from '../probe/qemu-caps.js';

const WORDSIZE: Record<string, number> = {
  i686: 32,
  armv7l: 32,
  ppc: 32,
  riscv32: 32,
  mips: 32,
  x86_64: 64,
  aarch64: 64,
  ppc64: 64,
  ppc64le: 64,
  s390x: 64,
  riscv64: 64,
  mips64: 64,
  loongarch64: 64,
};

export function guestFromQemuCaps(caps: QemuCaps): CapsGuest {
  const accel = caps.accel.tcg ?? caps.accel.kvm;
  const machines: CapsMachine[] = [];
  for (const m of accel?.machines ?? []) {
    const entry: CapsMachine = { name: m.name, maxCpus: m.maxCpus };
    if (m.deprecated) entry.deprecated = true;
    machines.push(entry);
    if (m.alias) {
      const alias: CapsMachine = { name: m.alias, canonical: m.name, maxCpus: m.maxCpus };
      if (m.deprecated) alias.deprecated = true;
      machines.push(alias);
    }
  }
  const domains: NonNullable<CapsGuest['arch']['domains']> = [{ type: 'qemu' }];
  if (caps.accel.kvm) domains.push({ type: 'kvm' });
  const guest: CapsGuest = {
    osType: 'hvm',
    arch: { name: caps.arch, emulator: caps.emulator, domains },
  };
  const wordsize = WORDSIZE[caps.arch];
  if (wordsize !== undefined) guest.arch.wordsize = wordsize;
  if (machines.length > 0) guest.arch.machines = machines;
  const x86 = caps.arch === 'x86_64' || caps.arch === 'i686';
  const features: NonNullable<CapsGuest['features']> = [];
  if (caps.arch === 'i686') features.push({ name: 'pae' }, { name: 'nonpae' });
  // ACPI can be switched off where the firmware offers it; the APIC only exists on x86.
  if (x86 || caps.arch === 'aarch64' || caps.arch === 'loongarch64') {
    features.push({ name: 'acpi', default: true, toggle: true });
  }
  if (x86) features.push({ name: 'apic', default: true, toggle: false });
  // In libvirt's order of guest features; every QEMU we drive can take external snapshots.
  features.push(
    { name: 'cpuselection' },
    { name: 'deviceboot' },
    { name: 'disksnapshot', default: true, toggle: false },
    { name: 'externalSnapshot' },
  );
  guest.features = features;
  return guest;
}

export function buildCapabilities(host: CapsHost, emulators: readonly QemuCaps[]): Capabilities {
  const guests = emulators.map(guestFromQemuCaps);
  return new Capabilities(guests.length > 0 ? { host, guests } : { host });
}
