import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveHostModel } from '../../../src/drivers/qemu/caps/host-model.js';
import {
  cpuMapFromDatabase,
  parseX86CpuMap,
  type X86CpuMap,
} from '../../../src/drivers/qemu/caps/x86-cpu-map.js';
import { buildQemuCaps, type QemuCaps } from '../../../src/drivers/qemu/probe/qemu-caps.js';
import { probeDataFromTranscript } from '../../../src/drivers/qemu/probe/transcript.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../../shared-data.js';
import { hostModelLines } from './helpers.js';

const FEATURES = ['fa', 'fb', 'pclmuldq', 'fd', 'fe', 'ff', 'hle', 'rtm'];

function smallMap(): X86CpuMap {
  const files: Record<string, string> = {
    'index.xml': `<cpus><arch name='x86'><include filename='f.xml'/><include filename='old.xml'/><include filename='new.xml'/><include filename='intel.xml'/></arch><arch name='arm'><include filename='arm.xml'/></arch></cpus>`,
    'f.xml': `<cpus>${FEATURES.map((f) => `<feature name='${f}'>${f === 'pclmuldq' ? "<alias name='pclmulqdq' source='qemu'/>" : ''}<cpuid eax_in='0x1' ecx='0x1'/></feature>`).join('')}</cpus>`,
    'old.xml': `<cpus><model name='Old'><decode host='on' guest='on'/><signature family='23' model='1'/><vendor name='AMD'/><feature name='fa'/></model></cpus>`,
    'new.xml': `<cpus><model name='New'><decode host='on' guest='on'/><signature family='23' model='49'/><vendor name='AMD'/><feature name='fa'/><feature name='fb'/><feature name='pclmuldq'/><feature name='fd'/></model><model name='New-v2'><decode host='on' guest='off'/><model name='New'/></model></cpus>`,
    'intel.xml': `<cpus><model name='Big'><decode host='on' guest='on'/><vendor name='Intel'/>${FEATURES.map((f) => `<feature name='${f}'/>`).join('')}</model></cpus>`,
    'arm.xml': `<cpus><model name='ArmThing'/></cpus>`,
  };
  return parseX86CpuMap(files['index.xml'] as string, (f) => files[f]);
}

function caps(
  props: Record<string, boolean | number | string>,
  blockers: Record<string, string[]> = {},
): QemuCaps {
  const cpuDefinitions = ['Old', 'New', 'New-v2', 'Big'].map((name) => ({
    name,
    'unavailable-features': blockers[name] ?? [],
  }));
  return buildQemuCaps({
    emulator: '/usr/bin/qemu-system-x86_64',
    version: { qemu: { major: 9, minor: 0, micro: 0 } },
    target: { arch: 'x86_64' },
    accel: {
      kvm: { cpuDefinitions, hostExpansion: { model: { name: 'base', props } } },
      tcg: { cpuDefinitions, hostExpansion: { model: { name: 'base', props } } },
    },
  });
}

const AMD = { vendor: 'AuthenticAMD', family: 25, model: 2, stepping: 0 };

describe('host-model resolution', () => {
  it('reads only the x86 part of a map, with model inheritance and QEMU spellings', () => {
    const map = smallMap();
    expect(map.models.map((m) => m.name)).toEqual(['Old', 'New', 'New-v2', 'Big']);
    expect([...(map.models[2]?.features ?? [])]).toEqual(['fa', 'fb', 'pclmuldq', 'fd']);
    expect(map.models[2]?.vendor).toBe('AMD');
    expect(map.models[2]?.decodeGuest).toBe(false);
    expect(map.qemuNames.get('pclmulqdq')).toBe('pclmuldq');
  });

  it('weighs removed features progressively (libvirt 11) or flat (libvirt 9)', () => {
    // host: fa fb pclmulqdq fe ff. New: add fe ff, remove fd. Old: add fb pclmuldq fe ff.
    const c = caps({ ...AMD, fa: true, fb: true, pclmulqdq: true, fe: true, ff: true, fd: false });
    const progressive = resolveHostModel(c, 'tcg', smallMap());
    // New costs 2 + 2 (first removal) = 4, Old costs 4 with no removal: the tie goes to fewer removals
    expect(progressive?.models?.[0]?.name).toBe('Old');
    expect(progressive?.features).toEqual([
      { policy: 'require', name: 'fb' },
      { policy: 'require', name: 'pclmuldq' },
      { policy: 'require', name: 'fe' },
      { policy: 'require', name: 'ff' },
    ]);
    const flat = resolveHostModel(c, 'tcg', smallMap(), { removalCost: 'flat' });
    expect(flat?.models?.[0]).toEqual({ name: 'New', fallback: 'forbid' });
    expect(flat?.vendor).toBe('AMD');
    expect(flat?.features).toEqual([
      { policy: 'require', name: 'fe' },
      { policy: 'require', name: 'ff' },
      { policy: 'disable', name: 'fd' },
    ]);
  });

  it('never picks another vendor, nor a model not meant for guests', () => {
    const c = caps({ ...AMD, ...Object.fromEntries(FEATURES.map((f) => [f, true])), pclmulqdq: true });
    const hm = resolveHostModel(c, 'tcg', smallMap());
    expect(hm?.models?.[0]?.name).not.toBe('Big'); // Intel, though it matches every feature
    expect(hm?.models?.[0]?.name).not.toBe('New-v2');
  });

  it('prefers a model whose signature matches the CPU', () => {
    const c = caps({ ...AMD, family: 23, model: 1, fa: true, fb: true, pclmulqdq: true, fd: true });
    // New would need nothing, but Old has the CPU's family and model
    expect(resolveHostModel(c, 'tcg', smallMap())?.models?.[0]?.name).toBe('Old');
  });

  it('disables what QEMU says blocks the chosen model, and passes physical address bits to KVM only', () => {
    const c = caps(
      { ...AMD, fa: true, fb: true, pclmulqdq: true, fd: true, ff: true },
      { New: ['ff', 'fd'] },
    );
    const hm = resolveHostModel(c, 'kvm', smallMap(), { physAddrBits: 48, removalCost: 'flat' });
    expect(hm?.models?.[0]?.name).toBe('New');
    expect(hm?.features).toEqual([
      { policy: 'disable', name: 'fd' },
      { policy: 'disable', name: 'ff' },
    ]);
    expect(hm?.maxPhysAddr).toEqual({ mode: 'passthrough', limit: 48 });
    expect(resolveHostModel(c, 'tcg', smallMap(), { physAddrBits: 48 })?.maxPhysAddr).toBeUndefined();
  });

  it('drops TSX on Intel parts where it is broken', () => {
    const intel = { vendor: 'GenuineIntel', family: 6, model: 60, stepping: 3 };
    const all = Object.fromEntries(FEATURES.map((f) => [f, true]));
    const hm = resolveHostModel(caps({ ...intel, ...all }), 'tcg', smallMap());
    expect(hm?.models?.[0]?.name).toBe('Big');
    expect(hm?.features).toEqual([
      { policy: 'disable', name: 'hle' },
      { policy: 'disable', name: 'rtm' },
    ]);
  });

  it('has nothing to say without a host expansion or for another architecture', () => {
    const c = caps({ ...AMD, fa: true });
    expect(resolveHostModel({ ...c, arch: 'aarch64' }, 'tcg', smallMap())).toBeUndefined();
    expect(resolveHostModel({ ...c, accel: {} }, 'tcg', smallMap())).toBeUndefined();
  });
});

function sharedMap(): X86CpuMap {
  const dir = join(SHARED_DIR, 'cpu/map');
  return parseX86CpuMap(readFileSync(join(dir, 'index.xml'), 'utf8'), (f) =>
    existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : undefined,
  );
}

describe.skipIf(!HAS_SHARED)(`host-model on libvirt 11.3's data${SHARED_NOTE}`, () => {
  for (const version of ['9.0.0', '9.1.0', '10.0.0']) {
    for (const accel of ['kvm', 'tcg'] as const) {
      it.each([
        ['libvirt map', sharedMap],
        ["CPU engine's database", () => cpuMapFromDatabase()],
      ] as const)(`QEMU ${version} ${accel} with the %s`, (_label, map) => {
        const text = readFileSync(join(SHARED_DIR, `qemucaps/caps_${version}_x86_64.replies`), 'utf8');
        const c = buildQemuCaps(probeDataFromTranscript(text, '/usr/bin/qemu-system-x86_64'));
        const hm = resolveHostModel(c, accel, map());
        const ours = [
          `model ${hm?.models?.[0]?.name}`,
          ...(hm?.features ?? []).map((f) => `${f.policy} ${f.name}`),
        ];
        const file = `domaincaps/qemu_${version}${accel === 'tcg' ? '-tcg' : ''}.x86_64.xml`;
        expect(ours).toEqual(hostModelLines(readFileSync(join(SHARED_DIR, file), 'utf8')));
      });
    }
  }
});
