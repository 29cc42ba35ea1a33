import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { runnerGuestFromDef } from '../../../src/drivers/qemu/domains/index.js';
import {
  checkRunnerCommand,
  type RunnerGuest,
  runnerPaths,
  validateRunnerGuest,
} from '../../../src/drivers/qemu/lifecycle/index.js';
import { isVirError } from '../../../src/errors.js';
import { testDomainXml } from './helpers.js';

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

function guest(overrides: Partial<RunnerGuest> = {}): RunnerGuest {
  return { ...runnerGuestFromDef(DomainDef.fromXML(testDomainXml())), ...overrides };
}

describe('the command line the runner needs', () => {
  const paths = runnerPaths({ stateRoot: '/run/x,y', logRoot: '/log' }, guest());
  // The options buildCommandLine writes, spelled out here so the test does not trust the code under test.
  const needed = [
    '/usr/bin/qemu-system-x86_64',
    '-S',
    '-chardev',
    `socket,id=charmonitor,path=${paths.monitorSocket.split(',').join(',,')},server=on,wait=off`,
    '-mon',
    'chardev=charmonitor,id=monitor,mode=control',
    '-no-shutdown',
  ];

  it('accepts one with -S, the monitor on its socket (commas doubled) and -no-shutdown', () => {
    expect(paths.monitorSocket).toContain('/run/x,y/qemu/domain-');
    expect(() => checkRunnerCommand({ argv: needed, env: {} }, paths)).not.toThrow();
  });

  it.each([['-S'], ['-no-shutdown'], ['-mon']])('refuses one without %s', (option) => {
    const i = needed.indexOf(option);
    const argv = needed.filter((_, j) => j !== i && !(option === '-mon' && j === i + 1));
    const err = errorOf(() => checkRunnerCommand({ argv, env: {} }, paths));
    expect(isVirError(err, 'INTERNAL_ERROR')).toBe(true);
    expect((err as Error).message).toContain(option);
  });

  it('refuses a monitor on another socket and a relative binary', () => {
    const other = needed.map((a) => a.replace('monitor.sock', 'other.sock'));
    expect(
      isVirError(
        errorOf(() => checkRunnerCommand({ argv: other, env: {} }, paths)),
        'INTERNAL_ERROR',
      ),
    ).toBe(true);
    const relative = ['qemu-system-x86_64', ...needed.slice(1)];
    expect(
      isVirError(
        errorOf(() => checkRunnerCommand({ argv: relative, env: {} }, paths)),
        'INVALID_ARG',
      ),
    ).toBe(true);
  });
});

describe('the runner guest', () => {
  it('comes from the definition: sizes, actions, balloon, checked CPU model', () => {
    const def = DomainDef.fromXML(
      testDomainXml({
        memoryKiB: 32768,
        currentMemoryKiB: 16384,
        vcpus: 2,
        cpu: 'Haswell,+vmx',
        onReboot: 'destroy',
        memballoon: false,
      }),
    );
    const g = runnerGuestFromDef(def);
    expect(g).toMatchObject({
      name: def.name,
      uuid: def.uuid,
      memoryKiB: 32768,
      currentMemoryKiB: 16384,
      vcpus: 2,
      cpuCheck: { model: 'Haswell' },
      onReboot: 'destroy',
      memballoon: false,
    });
    expect(
      runnerGuestFromDef(DomainDef.fromXML(testDomainXml({ cpu: 'Haswell', cpuCheck: 'none' }))).cpuCheck,
    ).toBe(undefined);
    expect(runnerGuestFromDef(DomainDef.fromXML(testDomainXml({ cpu: 'host' }))).cpuCheck).toBe(undefined);
  });

  it.each([
    ['name', { name: '' }],
    ['name', { name: 'a/b' }],
    ['name', { name: 'a\nb' }],
    ['name', { name: '..' }],
    ['uuid', { uuid: 'not-a-uuid' }],
    ['memory', { memoryKiB: 12.5 }],
    ['currentMemory', { currentMemoryKiB: 1 << 30 }],
    ['vcpu', { vcpus: 0 }],
  ])('rejects a bad %s with INVALID_ARG naming the field', (field, bad) => {
    const err = errorOf(() => validateRunnerGuest(guest(bad)));
    expect(isVirError(err, 'INVALID_ARG')).toBe(true);
    expect((err as { field?: string }).field).toBe(field);
  });

  it('refuses lifecycle actions the QEMU driver does not implement', () => {
    const err = errorOf(() => validateRunnerGuest(guest({ onPoweroff: 'preserve' })));
    expect(isVirError(err, 'CONFIG_UNSUPPORTED')).toBe(true);
    expect((err as { field?: string }).field).toBe('on_poweroff');
    const fromDef = errorOf(() =>
      runnerGuestFromDef(
        DomainDef.fromXML(testDomainXml().replace('<on_crash>destroy', '<on_crash>coredump-destroy')),
      ),
    );
    expect(isVirError(fromDef, 'CONFIG_UNSUPPORTED')).toBe(true);
  });

  it('accepts names with commas, quotes, spaces and equals signs', () => {
    expect(() => validateRunnerGuest(guest({ name: `we,ird "name" = 'x'` }))).not.toThrow();
  });
});
