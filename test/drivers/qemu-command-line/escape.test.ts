import { describe, expect, it } from 'vitest';
import { checkValue, jsonArg, optValue } from '../../../src/drivers/qemu/command-line/index.js';
import { VirError } from '../../../src/errors.js';

describe('QEMU option escaping', () => {
  it('doubles every comma of a value in a key=value list', () => {
    // QEMU's own rule: ",," in an option value stands for one literal comma.
    expect(optValue('a,b,,c', '/domain/name')).toBe('a,,b,,,,c');
    expect(optValue('plain value', '/domain/name')).toBe('plain value');
  });

  it.each([
    ['newline', 'a\nb'],
    ['carriage return', 'a\rb'],
    ['NUL', 'a\u0000b'],
    ['tab', 'a\tb'],
    ['DEL', 'a\u007fb'],
  ])('refuses a %s with XML_DETAIL naming the field', (_label, value) => {
    let err: unknown;
    try {
      optValue(value, '/domain/devices/disk[1]/source/@file');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VirError);
    expect((err as VirError).code).toBe('XML_DETAIL');
    expect((err as VirError).field).toBe('/domain/devices/disk[1]/source/@file');
  });

  it('passes quotes, spaces, equals signs and non-ASCII through unchanged', () => {
    expect(checkValue(`it's "x" = y é`, 'f')).toBe(`it's "x" = y é`);
  });

  it('writes JSON arguments without comma escaping but still refuses control characters', () => {
    expect(jsonArg({ driver: 'file', filename: '/a,b "c"' }, 'disk')).toBe(
      '{"driver":"file","filename":"/a,b \\"c\\""}',
    );
    expect(() => jsonArg({ nested: { serial: 'x\ny' } }, 'disk')).toThrow(VirError);
  });
});
