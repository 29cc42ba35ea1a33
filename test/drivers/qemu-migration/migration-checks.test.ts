/**
 * The checks a migration makes before anything moves, without QEMU: the
 * running guest's CPU on the destination by libvirt's rule (optional
 * features the source enabled become required; host-passthrough only to an
 * identical host), on two real host CPUs of libvirt's cputest data (a
 * Haswell-era Core i7-4510U with AVX2, a Sandy Bridge Core i7-2600
 * without); the devices whose helper state does not move; identity clashes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { ConfigStore } from '../../../src/drivers/qemu/domains/config-store.js';
import { DomainTable } from '../../../src/drivers/qemu/domains/domain-table.js';
import {
  checkMigrationCpu,
  incomingEntry,
  refuseUnmigratable,
} from '../../../src/drivers/qemu/domains/migration-checks.js';
import { isVirError, type VirError } from '../../../src/errors.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../../shared-data.js';

const hostCpu = (name: string) =>
  readFileSync(join(SHARED_DIR, 'cpu/cases', `x86_64-cpuid-${name}-host.xml`), 'utf8');

function guest(cpu: string, devices = ''): DomainDef {
  return DomainDef.fromXML(`<domain type='kvm'>
  <name>g</name><uuid>b2b2b2b2-0000-4000-8000-000000000001</uuid>
  <memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  ${cpu}
  <devices>${devices}</devices>
</domain>`);
}

function errorOf(fn: () => void): VirError {
  try {
    fn();
  } catch (err) {
    expect(isVirError(err), String(err)).toBe(true);
    return err as VirError;
  }
  throw new Error('expected a VirError');
}

describe.skipIf(!HAS_SHARED)(`the CPU check of a migration${SHARED_NOTE}`, () => {
  const haswell = { name: 'i7-4510U', cpu: HAS_SHARED ? hostCpu('Core-i7-4510U') : '' };
  const sandy = { name: 'i7-2600', cpu: HAS_SHARED ? hostCpu('Core-i7-2600') : '' };

  it('an optional feature the source enabled is required at the destination: CPU_INCOMPATIBLE naming it', () => {
    const g = guest(
      "<cpu mode='custom' match='exact'><model>Nehalem</model><feature policy='optional' name='avx2'/></cpu>",
    );
    const err = errorOf(() => checkMigrationCpu(g, haswell, sandy));
    expect(err.code).toBe('CPU_INCOMPATIBLE');
    expect(err.message).toContain('features: avx2');
    expect(err.field).toBe('/domain/cpu');
    // The other way round avx2 was never enabled (the source lacks it), so the guest may go.
    expect(() => checkMigrationCpu(g, sandy, haswell)).not.toThrow();
    // Between identical hosts nothing blocks it.
    expect(() => checkMigrationCpu(g, haswell, { ...haswell, name: 'twin' })).not.toThrow();
  });

  it('host-passthrough moves only between identical hosts', () => {
    const g = guest("<cpu mode='host-passthrough'/>");
    expect(errorOf(() => checkMigrationCpu(g, haswell, sandy)).code).toBe('CPU_INCOMPATIBLE');
    expect(() => checkMigrationCpu(g, sandy, { ...sandy, name: 'twin' })).not.toThrow();
  });
});

describe('the device and identity checks of a migration', () => {
  it('refuses the devices whose helper state stays behind, naming the field', () => {
    const cases: [string, string][] = [
      [
        "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>",
        '/domain/devices/tpm[1]/backend/@type',
      ],
      [
        "<filesystem type='mount'><driver type='virtiofs'/><source dir='/tmp'/><target dir='t'/></filesystem>",
        '/domain/devices/filesystem[1]/driver/@type',
      ],
      [
        "<interface type='user'><backend type='passt'/><model type='virtio'/></interface>",
        '/domain/devices/interface[1]/backend/@type',
      ],
      ["<interface type='bridge'><source bridge='br0'/></interface>", '/domain/devices/interface[1]/@type'],
    ];
    for (const [dev, field] of cases) {
      const err = errorOf(() => refuseUnmigratable(guest('', dev)));
      expect(err.code).toBe('CONFIG_UNSUPPORTED');
      expect(err.field).toBe(field);
    }
    expect(() =>
      refuseUnmigratable(
        guest('', "<interface type='user'><model type='virtio'/></interface><serial type='pty'/>"),
      ),
    ).not.toThrow();
  });

  it('an inactive definition of the same identity receives the guest; other clashes are OPERATION_INVALID', () => {
    const table = new DomainTable(new ConfigStore('/nonexistent-vk-config'));
    const def = guest('');
    const e = table.insert(def, true);
    expect(incomingEntry(table, 'g', def.uuid ?? '')).toBe(e);
    expect(incomingEntry(table, 'other', 'b2b2b2b2-0000-4000-8000-000000000002')).toBeUndefined();
    expect(errorOf(() => incomingEntry(table, 'g', 'b2b2b2b2-0000-4000-8000-000000000002')).code).toBe(
      'OPERATION_INVALID',
    );
    expect(errorOf(() => incomingEntry(table, 'renamed', def.uuid ?? '')).code).toBe('OPERATION_INVALID');
  });
});
