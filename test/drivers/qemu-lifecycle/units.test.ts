import { describe, expect, it } from 'vitest';
import {
  buildSpecCommandLine,
  cpuArg,
  qemuOptValue,
  validateGuestSpec,
} from '../../../src/drivers/qemu/lifecycle/index.js';
import { isVirError } from '../../../src/errors.js';
import { testSpec } from './helpers.js';

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('QEMU option escaping', () => {
  it('doubles commas and leaves everything else as is', () => {
    expect(qemuOptValue('a,b')).toBe('a,,b');
    expect(qemuOptValue(',,')).toBe(',,,,');
    expect(qemuOptValue(`x=y "q" 'r'\nz`)).toBe(`x=y "q" 'r'\nz`);
  });

  it('escapes the name and the monitor path, and keeps each value one argv entry', () => {
    const spec = testSpec({ name: 'a,b=c "d"' });
    const { argv } = buildSpecCommandLine(spec, { monitorSocket: '/tmp/x,y/monitor.sock' });
    expect(argv[argv.indexOf('-name') + 1]).toBe('guest=a,,b=c "d",debug-threads=on');
    expect(argv).toContain('socket,id=charmonitor,path=/tmp/x,,y/monitor.sock,server=on,wait=off');
    expect(argv).toContain('-S');
    expect(argv).toContain('-no-shutdown');
    expect(argv).not.toContain('-no-reboot');
  });

  it('adds enforce to named CPU models only', () => {
    expect(cpuArg('Haswell,+vmx', true)).toBe('Haswell,+vmx,enforce');
    expect(cpuArg('Haswell,enforce', true)).toBe('Haswell,enforce');
    expect(cpuArg('host', true)).toBe('host');
    expect(cpuArg('max', true)).toBe('max');
    expect(cpuArg('Haswell', false)).toBe('Haswell');
  });

  it('adds -no-reboot only when a guest reboot must end the guest', () => {
    const { argv } = buildSpecCommandLine(testSpec({ onReboot: 'destroy' }), { monitorSocket: '/s' });
    expect(argv).toContain('-no-reboot');
  });
});

describe('guest spec validation', () => {
  it.each([
    ['name', { name: '' }],
    ['name', { name: 'a/b' }],
    ['name', { name: 'a\nb' }],
    ['name', { name: '..' }],
    ['uuid', { uuid: 'not-a-uuid' }],
    ['memory', { memoryKiB: 12.5 }],
    ['currentMemory', { currentMemoryKiB: 1 << 30 }],
    ['vcpu', { vcpus: 0 }],
    ['devices/emulator', { emulator: 'qemu-system-x86_64' }],
    ['cpu', { cpu: 'max\n-S' }],
  ])('rejects a bad %s with INVALID_ARG naming the field', (field, bad) => {
    const err = errorOf(() => validateGuestSpec(testSpec(bad)));
    expect(isVirError(err, 'INVALID_ARG')).toBe(true);
    expect((err as { field?: string }).field).toBe(field);
  });

  it('refuses lifecycle actions the QEMU driver does not implement', () => {
    const err = errorOf(() => validateGuestSpec(testSpec({ onPoweroff: 'preserve' })));
    expect(isVirError(err, 'CONFIG_UNSUPPORTED')).toBe(true);
    expect((err as { field?: string }).field).toBe('on_poweroff');
  });

  it('accepts names with commas, quotes, spaces and equals signs', () => {
    expect(() => validateGuestSpec(testSpec({ name: `we,ird "name" = 'x'` }))).not.toThrow();
  });
});
