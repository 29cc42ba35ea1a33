/**
 * The reason a cputest error case expects, derived from the case and the CPU
 * map, and the check that our failure is that one (no shared data needed).
 */
import { describe, expect, it } from 'vitest';
import {
  type CpuMapNames,
  expectedFailure,
  failedAsExpected,
  shouldHaveFailed,
} from '../../scripts/conformance/cpu-expect.js';
import { DataError } from '../../scripts/conformance/types.js';
import { unknownFeature, unknownModel, vendorMismatch } from '../../src/cpu/errors.js';
import { parseXml } from '../../src/xml/parse.js';

const MAP: CpuMapNames = {
  models: new Set(['Penryn', 'Opteron_G3', 'qemu64']),
  features: new Set(['vmx', 'lm', 'sse4.2']),
  vendors: new Map([
    ['Penryn', 'Intel'],
    ['Opteron_G3', 'AMD'],
  ]),
};

function files(docs: Record<string, string>) {
  return (rel: string) => {
    const text = docs[rel];
    if (text === undefined) throw new DataError(`missing file ${rel}`);
    return parseXml(text);
  };
}

describe('expected failures of cputest cases', () => {
  it('compare ERROR: the unknown model or feature the CPU names', () => {
    const read = files({
      'cases/x86_64-a.xml': '<cpu><model>Bogus</model></cpu>',
      'cases/x86_64-b.xml': "<cpu><model>Penryn</model><feature name='frob'/></cpu>",
      'cases/x86_64-c.xml': "<cpu><model>Penryn</model><feature name='vmx'/></cpu>",
    });
    expect(expectedFailure({ kind: 'compare', name: 'a', cpu: 'a' }, MAP, read)).toMatchObject({
      reason: 'unknown-model',
      subject: 'Bogus',
    });
    expect(expectedFailure({ kind: 'compare', name: 'b', cpu: 'b' }, MAP, read)).toMatchObject({
      reason: 'unknown-feature',
      subject: 'frob',
    });
    expect(() => expectedFailure({ kind: 'compare', name: 'c', cpu: 'c' }, MAP, read)).toThrow(DataError);
  });

  it('hasfeature FAIL: only for a feature the map lacks', () => {
    const none = files({});
    expect(
      expectedFailure({ kind: 'hasfeature', name: 'h', cpu: null, feature: 'foo' }, MAP, none),
    ).toMatchObject({
      reason: 'unknown-feature',
      subject: 'foo',
    });
    expect(() =>
      expectedFailure({ kind: 'hasfeature', name: 'h', cpu: null, feature: 'lm' }, MAP, none),
    ).toThrow(/defines lm/);
  });

  it('baseline ERROR: vendors that differ, else nothing in common', () => {
    const read = files({
      'cases/x86_64-v.xml':
        '<cpuTest><cpu><model>Penryn</model><vendor>Intel</vendor></cpu><cpu><model>Opteron_G3</model></cpu></cpuTest>',
      'cases/x86_64-w.xml':
        '<cpuTest><cpu><model>Penryn</model></cpu><cpu><model>Penryn</model></cpu></cpuTest>',
    });
    expect(expectedFailure({ kind: 'baseline', name: 'v', cpu: 'v' }, MAP, read).reason).toBe(
      'vendor-mismatch',
    );
    expect(expectedFailure({ kind: 'baseline', name: 'w', cpu: 'w' }, MAP, read).reason).toBe('incompatible');
  });

  it('guest ERROR: fallback forbid, no real model to fall back to, or a misfit', () => {
    const read = files({
      'cases/x86_64-forbid.xml': "<cpu match='exact'><model fallback='forbid'>Penryn</model></cpu>",
      'cases/x86_64-allow.xml': "<cpu match='exact'><model>Penryn</model></cpu>",
    });
    const guest = (cpu: string, models: string[] | null) =>
      expectedFailure({ kind: 'guest', name: cpu, cpu, models }, MAP, read);
    expect(guest('forbid', ['qemu64'])).toMatchObject({ reason: 'model-not-supported', subject: 'Penryn' });
    expect(guest('allow', ['nomodel']).reason).toBe('no-suitable-model');
    expect(guest('allow', ['qemu64']).reason).toBe('incompatible');
    expect(guest('allow', null).reason).toBe('incompatible');
  });

  it('a missing input is bad data, not the expected error', () => {
    expect(() => expectedFailure({ kind: 'compare', name: 'gone', cpu: 'gone' }, MAP, files({}))).toThrow(
      /missing file/,
    );
  });
});

describe('failing as expected', () => {
  const want = { reason: 'unknown-model' as const, subject: 'Bogus', because: 'cpu/map has no model Bogus' };

  it('accepts only the same reason about the same name', () => {
    expect(failedAsExpected(unknownModel('Bogus'), want)).toBeUndefined();
    expect(failedAsExpected(unknownModel('Other'), want)).toMatch(/got unknown-model 'Other'/);
    expect(failedAsExpected(unknownFeature('Bogus'), want)).toMatch(/got unknown-feature/);
    expect(failedAsExpected(vendorMismatch('vendors differ', 'cpu[2]/vendor'), want)).toMatch(
      /vendor-mismatch/,
    );
  });

  it('refuses any other exception, and passes data errors on', () => {
    expect(failedAsExpected(new Error('ENOENT: no such file'), want)).toMatch(/got ENOENT/);
    expect(() => failedAsExpected(new DataError('missing file x'), want)).toThrow(DataError);
  });

  it('says what happened when the operation succeeded', () => {
    expect(shouldHaveFailed(want, 'compare gave SUPERSET')).toMatch(
      /unknown-model 'Bogus'.*compare gave SUPERSET/,
    );
  });
});
