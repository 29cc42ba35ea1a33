/**
 * The `<features>` of domain capabilities: what QEMU offers besides devices
 * (vmcoreinfo, backup, PS/2 switch, Hyper-V, confidential guests with the
 * SEV and SGX details QEMU and the host report).
 *
 * @module
 */
import type { DomainCapabilities, DomainCapsSev, DomainCapsSgx } from '../../../conf/domaincaps.js';
import { hasCommand, hasType, type QemuCaps } from '../probe/qemu-caps.js';
import { pick, support } from './domain-caps-enums.js';

/** The host CPU's SEV address-space ids (CPUID leaf 0x8000001F: `max` in ECX, `minSev` in EDX). */
export interface SevAsids {
  max: number;
  minSev: number;
}

export function buildFeatures(
  caps: QemuCaps,
  machine: string,
  host: { sevAsids?: SevAsids | undefined },
): NonNullable<DomainCapabilities['features']> {
  const x86 = caps.arch === 'x86_64' || caps.arch === 'i686';
  const type = (t: string) => hasType(caps, t);
  const sevGuest = caps.sev !== null && type('sev-guest');
  const snpGuest = caps.sev !== null && type('sev-snp-guest');
  const runWith = caps.commandLineOptions['run-with'] ?? [];
  const features: NonNullable<DomainCapabilities['features']> = {
    gic: { supported: false },
    vmcoreinfo: { supported: type('vmcoreinfo') },
    genid: { supported: type('vmgenid') },
    backingStoreInput: { supported: hasCommand(caps, 'blockdev-add') },
    backup: {
      supported: hasCommand(caps, 'blockdev-backup') && hasCommand(caps, 'block-dirty-bitmap-merge'),
    },
    'async-teardown': { supported: runWith.includes('async-teardown') },
  };
  if (caps.arch === 's390x') features['s390-pv'] = { supported: type('s390-pv-guest') };
  // The PS/2 controller can be switched off only with the PC machines' `i8042` property.
  if (x86) features.ps2 = { supported: i8042Toggle(caps, machine) };
  features.sev = sevGuest || snpGuest ? sevFeature(caps.sev ?? {}, host.sevAsids) : { supported: false };
  features.sgx = caps.sgx !== null && type('sgx-epc') ? sgxFeature(caps.sgx) : { supported: false };
  // Only what the host's KVM showed in the full expansion of `host`; nothing when it showed nothing.
  if (x86 && caps.hypervFeatures && caps.hypervFeatures.length > 0) {
    features.hyperv = support(true, { features: [...caps.hypervFeatures] });
  }
  const sectypes = pick([
    ['sev', sevGuest],
    ['sev-snp', snpGuest],
    ['s390-pv', caps.arch === 's390x' && type('s390-pv-guest')],
  ]);
  features.launchSecurity = sectypes.length > 0 ? support(true, { sectype: sectypes }) : { supported: false };
  return features;
}

/** Whether the machine's PS/2 controller can be turned off (`-machine ...,i8042=off`). */
function i8042Toggle(caps: QemuCaps, machine: string): boolean {
  if (!(caps.typeProps['generic-pc-machine'] ?? []).includes('i8042')) return false;
  return /^(pc|q35|isapc|xenfv)$|^pc-(i440fx|q35|\d)|^xenfv-/.test(machine);
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** `query-sev-capabilities` plus the host's address-space ids. */
function sevFeature(sev: Record<string, unknown>, asids: SevAsids | undefined): DomainCapsSev {
  // SEV guests take the ids from minSev to max; SEV-ES guests the ones below minSev.
  const known = asids !== undefined && asids.max > 0 && asids.minSev > 0;
  const out: DomainCapsSev = {
    supported: true,
    cbitpos: num(sev.cbitpos),
    reducedPhysBits: num(sev['reduced-phys-bits']),
    maxGuests: known ? asids.max - asids.minSev + 1 : 0,
    maxESGuests: known ? asids.minSev - 1 : 0,
  };
  if (typeof sev['cpu0-id'] === 'string') out.cpu0Id = sev['cpu0-id'];
  return out;
}

/** `query-sgx-capabilities`, sizes from bytes to KiB. */
function sgxFeature(sgx: Record<string, unknown>): DomainCapsSgx {
  const out: DomainCapsSgx = {
    supported: true,
    flc: sgx.flc === true,
    sgx1: sgx.sgx1 === true,
    sgx2: sgx.sgx2 === true,
    sectionSize: { unit: 'KiB', value: Math.floor(num(sgx['section-size']) / 1024) },
  };
  const sections = Array.isArray(sgx.sections) ? sgx.sections : [];
  if (sections.length > 0) {
    out.sections = {
      sections: sections.map((sec) => {
        const x = (typeof sec === 'object' && sec !== null ? sec : {}) as Record<string, unknown>;
        return { node: num(x.node), size: Math.floor(num(x.size) / 1024), unit: 'KiB' };
      }),
    };
  }
  return out;
}
