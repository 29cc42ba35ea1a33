/**
 * The shape checks the runner holds every family's cases to, and the rule a
 * domainxml/generic parse-error case is judged by (small data made here).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { caseProblem } from '../../scripts/conformance/case-checks.js';
import { parseErrorProblem } from '../../scripts/conformance/domainxml-generic.js';
import { DataError } from '../../scripts/conformance/types.js';
import { DomainDef } from '../../src/conf/domain/domain-def.js';
import { VirError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'virtkit-case-checks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'cases'));
mkdirSync(join(dir, 'sysfs'));
for (const f of ['cases/a.xml', 'in.xml', 'out.xml', 'caps.xml', 'x.args'])
  writeFileSync(join(dir, f), '<x/>');

describe('case shapes', () => {
  it('accepts well-formed cases of every family', () => {
    const good: Array<[string, Record<string, unknown>]> = [
      [
        'cpu',
        {
          name: 'c',
          kind: 'compare',
          host: 'h',
          cpu: 'g',
          expected: 'ERROR',
          flags: [],
          files: ['cases/a.xml'],
        },
      ],
      [
        'cpu',
        {
          name: 'u',
          kind: 'update',
          host: 'h',
          cpu: 'g',
          expected: 'cases/a.xml',
          flags: [],
          files: ['cases/a.xml'],
        },
      ],
      [
        'domainxml/generic',
        { name: 'g', family: 'generic', expect: 'parse-error', input: 'in.xml', live: true },
      ],
      [
        'domainxml/qemu',
        {
          name: 'q',
          family: 'qemu',
          expect: 'success',
          input: 'in.xml',
          output: 'out.xml',
          args: 'x.args',
          arch: 'x86_64',
          qemuCapsVersion: '10.0.0',
          qemuCaps: 'caps.xml',
        },
      ],
      ['qemucaps', { name: '10', arch: 'x86_64', replies: 'x.args', expected: 'caps.xml' }],
      [
        'domaincaps',
        {
          name: 'd',
          qemuVersion: '10',
          arch: 'x86_64',
          virtType: 'kvm',
          machine: null,
          emulator: '/q',
          qemuCaps: 'caps.xml',
          expected: 'out.xml',
        },
      ],
      ['capabilities', { name: 'c', arch: 'x86_64', qemuCaps: 'caps.xml', expected: 'out.xml' }],
      [
        'hostcaps',
        {
          name: 'h',
          arch: 'x86_64',
          sysfs: 'sysfs',
          offlineMigrate: true,
          liveMigrate: false,
          expected: 'out.xml',
        },
      ],
      ['objects', { name: 'o', kind: 'network', expect: 'success', input: 'in.xml', output: 'out.xml' }],
    ];
    for (const [family, c] of good)
      expect(caseProblem(family, c, dir), `${family} ${c.name}`).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['cpu', { name: 'k', kind: 'frobnicate' }, /kind: unknown value "frobnicate"/],
    [
      'cpu',
      {
        name: 'e',
        kind: 'compare',
        host: 'h',
        cpu: 'g',
        expected: 'MAYBE',
        flags: [],
        files: ['cases/a.xml'],
      },
      /expected: unknown value/,
    ],
    [
      'cpu',
      {
        name: 'f',
        kind: 'update',
        host: 'h',
        cpu: 'g',
        expected: 'cases/gone.xml',
        flags: [],
        files: ['cases/a.xml'],
      },
      /expected: names a missing file cases\/gone.xml/,
    ],
    [
      'cpu',
      {
        name: 'l',
        kind: 'update',
        host: 'h',
        cpu: 'g',
        expected: 'cases/a.xml',
        flags: ['fast'],
        files: ['cases/a.xml'],
      },
      /flags: \[0\] unknown value "fast"/,
    ],
    [
      'cpu',
      { name: 'h', kind: 'hasfeature', host: 'h', expected: 'YES', flags: [], files: ['cases/a.xml'] },
      /feature: must be a non-empty string/,
    ],
    [
      'domainxml/generic',
      { name: 'o', family: 'generic', expect: 'success', input: 'in.xml', live: true },
      /output: must be a non-empty string/,
    ],
    [
      'domainxml/generic',
      { name: 'x', family: 'martian', expect: 'success', input: 'in.xml', output: 'out.xml', live: true },
      /family: unknown value "martian"/,
    ],
    [
      'domainxml/qemu',
      { name: 'q', family: 'qemu', expect: 'parse-error', input: 'in.xml' },
      /expect: unknown value "parse-error"/,
    ],
    [
      'domaincaps',
      {
        name: 'd',
        qemuVersion: '10',
        arch: 'x86_64',
        virtType: 'xen',
        machine: null,
        emulator: '/q',
        qemuCaps: 'caps.xml',
        expected: 'out.xml',
      },
      /virtType: unknown value "xen"/,
    ],
    ['qemucaps', { name: '10', arch: 'x86_64', expected: 'caps.xml' }, /replies: must be a non-empty string/],
    [
      'objects',
      { name: 'v', kind: 'storagevol', expect: 'success', input: 'in.xml', output: 'out.xml' },
      /pool: must be a non-empty string/,
    ],
    [
      'hostcaps',
      {
        name: 'h',
        arch: 'x86_64',
        sysfs: 'nowhere',
        offlineMigrate: true,
        liveMigrate: false,
        expected: 'out.xml',
      },
      /sysfs: names a missing folder/,
    ],
    [
      'capabilities',
      { arch: 'x86_64', qemuCaps: 'caps.xml', expected: 'out.xml' },
      /name: must be a non-empty string/,
    ],
  ])('%s: %j is refused', (family, c, why) => {
    expect(caseProblem(family, c, dir)).toMatch(why);
  });
});

describe('domainxml/generic parse errors', () => {
  const refused = (xml: string) => {
    try {
      DomainDef.fromXML(xml);
    } catch (err) {
      return err;
    }
    throw new Error('parsed');
  };

  it('accepts a model error naming the line or field, about what the name says is missing', () => {
    const err = new VirError('XML_DETAIL', 'conf', "missing source 'service' of a tcp character device", {
      field: '/domain/devices/serial[1]',
      line: 12,
    });
    expect(parseErrorProblem(err, 'generic/chardev-tcp-missing-service')).toBeUndefined();
    expect(parseErrorProblem(err, 'generic/chardev-tcp-missing-host')).toMatch(/missing host/);
  });

  it('refuses a syntax error, a bare error, an error without a place, and passes data errors on', () => {
    expect(parseErrorProblem(refused('<domain'), 'generic/x')).toMatch(/XML syntax error/);
    expect(parseErrorProblem(new Error('ENOENT'), 'generic/x')).toMatch(/got Error: ENOENT/);
    expect(parseErrorProblem(new VirError('XML_DETAIL', 'conf', 'bad'), 'generic/x')).toMatch(
      /neither a line nor a field/,
    );
    expect(
      parseErrorProblem(new VirError('INTERNAL_ERROR', 'conf', 'bad', { line: 1 }), 'generic/x'),
    ).toMatch(/got INTERNAL_ERROR/);
    expect(() => parseErrorProblem(new DataError('missing file x'), 'generic/x')).toThrow(DataError);
  });
});
