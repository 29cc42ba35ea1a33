import { describe, expect, it } from 'vitest';
import {
  type OptSpec,
  parseOptions,
  parseScaledKiB,
  splitCommandString,
  UsageError,
} from '../../src/cli/args.js';
import { table } from '../../src/cli/format.js';

const SPECS: OptSpec[] = [
  { name: 'domain', kind: 'string', required: true, positional: true, help: '' },
  { name: 'size', kind: 'number', positional: true, help: '' },
  { name: 'live', kind: 'bool', help: '' },
];

describe('virsh-style option parsing', () => {
  it('fills positional options in order and reads --name value and --name=value', () => {
    const a = parseOptions('setmem', SPECS, ['vm', '--live', '10']);
    expect([a.str('domain'), a.str('size'), a.flag('live')]).toEqual(['vm', '10', true]);
    const b = parseOptions('setmem', SPECS, ['--size=5', '--domain', 'vm']);
    expect([b.str('domain'), b.str('size'), b.flag('live')]).toEqual(['vm', '5', false]);
  });

  it('refuses extra data and missing required options', () => {
    expect(() => parseOptions('setmem', SPECS, ['vm', '1', '2'])).toThrow(
      new UsageError("unexpected data '2'"),
    );
    expect(() => parseOptions('setmem', SPECS, ['--live'])).toThrow(
      "command 'setmem' requires <domain> option",
    );
  });

  it('splits command strings at ; and newlines, honouring quotes, escapes and comments', () => {
    expect(
      splitCommandString(`define f.xml; start 'my vm'\n list --all # all of them\n echo "a \\"b\\"" c\\ d`),
    ).toEqual([
      ['define', 'f.xml'],
      ['start', 'my vm'],
      ['list', '--all'],
      ['echo', 'a "b"', 'c d'],
    ]);
    expect(() => splitCommandString("start 'vm")).toThrow(UsageError);
  });

  it('reads scaled sizes in KiB as libvirt does', () => {
    expect(parseScaledKiB('1024', 'size')).toBe(1024);
    expect(parseScaledKiB('1M', 'size')).toBe(1024);
    expect(parseScaledKiB('1MB', 'size')).toBe(977);
    expect(parseScaledKiB('2GiB', 'size')).toBe(2097152);
    expect(parseScaledKiB('1b', 'size')).toBe(1);
  });
});

describe('virsh tables', () => {
  it('draws list exactly as virsh 9.0 does, empty or not', () => {
    expect(table(['Id', 'Name', 'State'], [])).toEqual([' Id   Name   State', '--------------------']);
    expect(
      table(
        ['Id', 'Name', 'State'],
        [
          ['1', 'test', 'running'],
          ['-', 'vm1', 'shut off'],
        ],
      ),
    ).toEqual([
      ' Id   Name   State',
      '-----------------------',
      ' 1    test   running',
      ' -    vm1    shut off',
    ]);
  });
});
