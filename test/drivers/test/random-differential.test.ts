import { describe, expect, it } from 'vitest';
import { hasPythonLibvirt, runLibvirt, runVirtkit } from './differential-runner.js';
import { randomSteps } from './random-steps.js';

const LIVE = hasPythonLibvirt();
const SEEDS = Array.from({ length: 12 }, (_, i) => i + 1);

describe.skipIf(!LIVE)(
  `random scripts vs libvirt's test driver${LIVE ? '' : ' (skipped: python3-libvirt not installed)'}`,
  () => {
    it.each(SEEDS)('seed %i: 80 random steps give the same results as libvirt', async (seed) => {
      const steps = randomSteps(seed, 80);
      const theirs = runLibvirt(steps);
      const ours = await runVirtkit(steps);
      for (let i = 0; i < steps.length; i++) {
        expect(ours[i], `seed ${seed} step ${i}: ${JSON.stringify(steps[i])}`).toEqual(theirs[i]);
      }
    });
  },
);
