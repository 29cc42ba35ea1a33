/**
 * Records libvirt's answers to the differential script into
 * fixtures/test-driver/libvirt-differential.json, so the comparison also runs
 * where python3-libvirt is missing:
 * `npx tsx test/drivers/test/record-libvirt.ts` (needs python3-libvirt).
 */
import { writeFileSync } from 'node:fs';
import { fixture } from '../../shared-data.js';
import { runLibvirt } from './differential-runner.js';
import { STEPS } from './differential-steps.js';

const version = (await import('node:child_process'))
  .spawnSync('/usr/bin/python3', ['-c', 'import libvirt; print(libvirt.getVersion())'], { encoding: 'utf8' })
  .stdout.trim();
const results = runLibvirt(STEPS);
writeFileSync(
  fixture('test-driver', 'libvirt-differential.json'),
  `${JSON.stringify({ libvirtVersion: Number(version), steps: STEPS.length, results }, null, 2)}\n`,
);
console.log(`recorded ${results.length} steps from libvirt ${version}`);
