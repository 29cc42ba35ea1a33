import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuModel, cpuModels, FeatureSet, x86Database } from '../../src/cpu/index.js';
import { HAS_SHARED, REPO_ROOT, SHARED_DIR, SHARED_NOTE } from '../shared-data.js';

describe('x86 CPU database', () => {
  const db = x86Database();

  // Facts checked against libvirt's cpu_map/x86_features.xml and x86_vendors.xml.
  it('knows feature bits, aliases and migratability', () => {
    const vmx = db.feature('vmx');
    expect(vmx?.masks).toEqual([{ key: 'cpuid:1:0:ecx', mask: 0x20 }]);
    const lm = db.feature('lm');
    expect(lm?.masks).toEqual([{ key: `cpuid:${0x80000001}:0:edx`, mask: 0x20000000 }]);
    expect(db.feature('invtsc')?.migratable).toBe(false);
    expect(db.feature('avx2')?.migratable).toBe(true);
    expect(db.featureAnyName('sse4_2')?.name).toBe('sse4.2');
    expect(db.featureAnyName('tsc-adjust')?.name).toBe('tsc_adjust');
    expect(db.feature('tsc-adjust')).toBeUndefined();
    // MSR-based feature (IA32_ARCH_CAPABILITIES bit 0).
    expect(db.feature('rdctl-no')?.masks).toEqual([{ key: `msr:${0x10a}:eax`, mask: 1 }]);
    expect(db.vendorById('AuthenticAMD')?.name).toBe('AMD');
  });

  it('resolves models with inheritance, signatures, removed and added features', () => {
    const haswell = db.model('Haswell');
    expect(haswell?.vendor).toBe('Intel');
    expect(haswell?.signatures.map((s) => [s.family, s.model])).toEqual([
      [6, 60],
      [6, 63],
      [6, 69],
      [6, 70],
    ]);
    expect(db.names(haswell?.features ?? db.emptySet())).toContain('avx2');
    // vmx-* features were added to old models later: listed apart, not part of the model.
    expect(haswell?.features.has(db.feature('vmx-ept')?.index ?? -1)).toBe(false);
    expect(haswell?.added.has(db.feature('vmx-ept')?.index ?? -1)).toBe(true);
    // Skylake-Client-v1 is an alias of Skylake-Client: same features, host decoding only.
    const v1 = db.model('Skylake-Client-v1');
    expect(v1?.features.equals(db.model('Skylake-Client')?.features ?? db.emptySet())).toBe(true);
    expect(v1?.decodeGuest).toBe(false);
    expect(v1?.decodeHost).toBe(true);
    // Skylake-Client lost mpx; the alias does not inherit that history.
    expect(db.names(db.model('Skylake-Client')?.removed ?? db.emptySet())).toEqual(['mpx']);
    expect(v1?.removed.isEmpty()).toBe(true);
    expect(db.model('Cascadelake-Server')?.signatures[0]?.steppings).toBe(0b11100000);
  });

  it('lists models for x86 and none for other architectures', () => {
    const models = cpuModels('x86_64');
    expect(models.length).toBe(db.models.length);
    expect(models.find((m) => m.name === 'EPYC-Rome')?.vendor).toBe('AMD');
    expect(cpuModels('aarch64')).toEqual([]);
    expect(cpuModel('Nehalem')?.features).toContain('sse4.2');
    expect(cpuModel('NoSuchModel')).toBeUndefined();
  });

  it('feature sets behave as sets', () => {
    const a = FeatureSet.of(100, [1, 5, 64, 99]);
    const b = FeatureSet.of(100, [5, 64]);
    expect([...a]).toEqual([1, 5, 64, 99]);
    expect(a.size).toBe(4);
    expect(b.isSubsetOf(a)).toBe(true);
    expect(a.isSubsetOf(b)).toBe(false);
    expect([...a.clone().subtract(b)]).toEqual([1, 99]);
    expect([...a.clone().intersect(b)]).toEqual([5, 64]);
    expect(a.intersects(FeatureSet.of(100, [2]))).toBe(false);
    expect(new FeatureSet(100).isEmpty()).toBe(true);
  });

  describe.skipIf(!HAS_SHARED)(`generated data module${SHARED_NOTE}`, () => {
    it('is current with the CPU map', () => {
      const dir = mkdtempSync(join(tmpdir(), 'virtkit-cpudb-'));
      try {
        const out = join(dir, 'x86-map.ts');
        execFileSync(
          process.execPath,
          [
            join(REPO_ROOT, 'node_modules/tsx/dist/cli.mjs'),
            join(REPO_ROOT, 'scripts/gen-cpu-db.ts'),
            '--map',
            join(SHARED_DIR, 'cpu/map'),
            '--out',
            out,
          ],
          { stdio: 'ignore' },
        );
        expect(readFileSync(out, 'utf8')).toBe(
          readFileSync(join(REPO_ROOT, 'src/cpu/data/x86-map.ts'), 'utf8'),
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  });
});
