import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixture } from '../../shared-data.js';
import { hasPythonLibvirt, runLibvirt, runVirtkit, type StepResult } from './differential-runner.js';
import { STEPS } from './differential-steps.js';

const LIVE = hasPythonLibvirt();

/** libvirt's answers: live from python3-libvirt when installed, else as recorded from it. */
function libvirtResults(): StepResult[] {
  if (LIVE) return runLibvirt(STEPS);
  const recorded = JSON.parse(readFileSync(fixture('test-driver', 'libvirt-differential.json'), 'utf8')) as {
    steps: number;
    results: StepResult[];
  };
  if (recorded.steps !== STEPS.length) throw new Error('recorded results are stale: run record-libvirt.ts');
  return recorded.results;
}

describe(`test driver vs libvirt's test driver (${LIVE ? 'live python3-libvirt' : 'recorded libvirt 9.0 answers'})`, () => {
  it('has at least 40 steps covering every refused transition', () => {
    expect(STEPS.length).toBeGreaterThanOrEqual(40);
    const theirs = libvirtResults();
    const codes = new Set(theirs.filter((r) => !r.ok).map((r) => r.code));
    for (const code of [
      'INTERNAL_ERROR',
      'OPERATION_INVALID',
      'OPERATION_FAILED',
      'NO_DOMAIN',
      'INVALID_ARG',
      'XML_ERROR',
      'XML_DETAIL',
      'NO_NAME',
      'CONFIG_UNSUPPORTED',
    ]) {
      expect(codes, code).toContain(code);
    }
  });

  it('gives the same outcome, error code, events, ids, states, reasons and info at every step', async () => {
    const theirs = libvirtResults();
    const ours = await runVirtkit(STEPS);
    expect(ours).toHaveLength(theirs.length);
    for (let i = 0; i < STEPS.length; i++) {
      // One assertion per step, labelled, so a failure names the step.
      expect(ours[i], `step ${i}: ${JSON.stringify(STEPS[i])}`).toEqual(theirs[i]);
    }
  });
});
