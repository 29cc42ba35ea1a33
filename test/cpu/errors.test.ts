/**
 * Each way the CPU engine fails carries a stable reason and names the model,
 * feature or vendor at fault, on top of its VirError code.
 */
import { describe, expect, it } from 'vitest';
import { CpuDef } from '../../src/conf/cpu.js';
import {
  baselineCpu,
  CpuError,
  type CpuErrorReason,
  compareCpu,
  hasFeature,
  isCpuError,
  qemuCpuArg,
  translateCpu,
} from '../../src/cpu/index.js';
import { VirError } from '../../src/errors.js';

const HOST = `<cpu><arch>x86_64</arch><model>Penryn</model><vendor>Intel</vendor><feature name='vmx'/></cpu>`;

function failure(body: () => unknown): CpuError {
  try {
    body();
  } catch (err) {
    expect(err).toBeInstanceOf(VirError);
    expect(err).toBeInstanceOf(CpuError);
    return err as CpuError;
  }
  throw new Error('expected a CpuError, nothing was thrown');
}

describe('CpuError reasons', () => {
  it.each<[string, () => unknown, CpuErrorReason, string, string | undefined]>([
    [
      'compare with an unknown model',
      () => compareCpu(HOST, "<cpu match='minimum'><model>Bogus</model></cpu>"),
      'unknown-model',
      'INVALID_ARG',
      'Bogus',
    ],
    [
      'compare with an unknown feature',
      () =>
        compareCpu(
          HOST,
          "<cpu match='minimum'><model>Penryn</model><feature name='bogus' policy='optional'/></cpu>",
        ),
      'unknown-feature',
      'INVALID_ARG',
      'bogus',
    ],
    ['checking an unknown feature', () => hasFeature(HOST, 'foo'), 'unknown-feature', 'INVALID_ARG', 'foo'],
    [
      'baseline of an Intel and an AMD CPU',
      () =>
        baselineCpu([HOST, '<cpu><arch>x86_64</arch><model>Opteron_G3</model><vendor>AMD</vendor></cpu>']),
      'vendor-mismatch',
      'CPU_INCOMPATIBLE',
      'AMD',
    ],
    [
      'translating a model the hypervisor lacks with fallback forbid',
      () =>
        translateCpu("<cpu mode='custom' match='exact'><model fallback='forbid'>Penryn</model></cpu>", [
          'qemu64',
        ]),
      'model-not-supported',
      'CONFIG_UNSUPPORTED',
      'Penryn',
    ],
    [
      'translating to a list with no real model',
      () => translateCpu("<cpu mode='custom' match='exact'><model>Penryn</model></cpu>", ['nomodel']),
      'no-suitable-model',
      'CONFIG_UNSUPPORTED',
      undefined,
    ],
    [
      'a -cpu for an unknown model',
      () => qemuCpuArg(CpuDef.fromXML("<cpu mode='custom'><model>Bogus</model></cpu>")),
      'unknown-model',
      'INVALID_ARG',
      'Bogus',
    ],
  ])('%s', (_what, body, reason, code, subject) => {
    const err = failure(body);
    expect(err.reason).toBe(reason);
    expect(err.code).toBe(code);
    expect(err.domain).toBe('cpu');
    expect(err.subject).toBe(subject);
    expect(isCpuError(err, reason)).toBe(true);
    expect(err.toJSON()).toMatchObject({ code, reason });
  });

  it('is not confused with other errors', () => {
    expect(isCpuError(new VirError('INVALID_ARG', 'cpu', 'x'))).toBe(false);
    expect(isCpuError(new Error('x'))).toBe(false);
  });
});
