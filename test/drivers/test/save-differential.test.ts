/**
 * Save, restore, managed save and the maximum memory of the test driver
 * against libvirt's own test driver (python3-libvirt): the same script run
 * by both, each in its own directory of save files, compared step by step
 * (outcome, error code, lifecycle events, every domain's state, reason,
 * persistence, managed-save flag and memory). Then each side restores the
 * file the other wrote: the files are the same format. Without
 * python3-libvirt there is nothing to compare against, and the test says so.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPythonLibvirt, runLibvirt, runVirtkit } from './differential-runner.js';
import type { Step } from './differential-steps.js';

const LIVE = hasPythonLibvirt();
const transient = (name: string, uuid = '') =>
  `<domain type='test'><name>${name}</name>${uuid ? `<uuid>${uuid}</uuid>` : ''}<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;

const STEPS: readonly Step[] = [
  { op: 'save', dom: 'test', file: 'a.img' },
  { op: 'save', dom: 'test', file: 'a.img' },
  { op: 'state', dom: 'test' },
  { op: 'restore', file: 'a.img' },
  { op: 'restore', file: 'a.img' },
  { op: 'restore', file: 'missing.img' },
  { op: 'restore', file: 'bad.img' },
  { op: 'restore', file: 'short.img' },
  { op: 'restore', file: 'incomplete.img' },
  { op: 'restore', file: 'badxml.img' },
  { op: 'save', dom: 'test', file: 'nodir/x.img' },
  { op: 'suspend', dom: 'test' },
  { op: 'save', dom: 'test', file: 'b.img' },
  { op: 'restore', file: 'b.img', paused: true },
  { op: 'restore', file: 'b.img' },
  { op: 'managedSave', dom: 'test' },
  { op: 'hasManagedSave', dom: 'test' },
  { op: 'managedSaveRemove', dom: 'test' },
  { op: 'hasManagedSave', dom: 'test' },
  { op: 'managedSaveRemove', dom: 'test' },
  { op: 'start', dom: 'test' },
  { op: 'managedSaveRemove', dom: 'test' },
  { op: 'setMaxMemory', dom: 'test', kib: 4096 },
  { op: 'setMaxMemory', dom: 'test', kib: 4096, live: true },
  { op: 'setMaxMemory', dom: 'test', kib: 4096, config: true },
  { op: 'xml', dom: 'test', inactive: true },
  { op: 'destroy', dom: 'test' },
  { op: 'setMaxMemory', dom: 'test', kib: 2048 },
  { op: 'setMaxMemory', dom: 'test', kib: 16777216 },
  { op: 'setMaxMemory', dom: 'test', kib: 1024, live: true },
  { op: 'setMaxMemory', dom: 'test', kib: 0 },
  { op: 'create', xml: transient('tr', '5b3a0cbe-55a4-4cc4-8a34-0d4a3f1e1a51') },
  { op: 'save', dom: 'tr', file: 'tr.img' },
  { op: 'list', filter: 'transient' },
  { op: 'restore', file: 'tr.img' },
  { op: 'setMaxMemory', dom: 'tr', kib: 1024 },
  { op: 'setMaxMemory', dom: 'tr', kib: 1024, config: true },
  { op: 'destroy', dom: 'tr' },
  { op: 'define', xml: transient('tr', '5b3a0cbe-55a4-4cc4-8a34-0d4a3f1e1a52') },
  { op: 'restore', file: 'tr.img' },
  { op: 'start', dom: 'test' },
  { op: 'save', dom: 'test', file: 'c.img' },
  { op: 'undefine', dom: 'test' },
  { op: 'restore', file: 'c.img' },
  { op: 'list', filter: 'transient' },
  { op: 'xml', dom: 'test' },
];

/** What each directory holds before the script: files that are no save image, or a broken one. */
function seed(dir: string): void {
  writeFileSync(join(dir, 'bad.img'), 'garbage garbage garbage garbage');
  writeFileSync(join(dir, 'short.img'), Buffer.from('TestGuestMagic\0\x05', 'latin1'));
  writeFileSync(join(dir, 'incomplete.img'), Buffer.from('TestGuestMagic\0\xff\0\0\0<domain', 'latin1'));
  writeFileSync(join(dir, 'badxml.img'), Buffer.from('TestGuestMagic\0\x05\0\0\0<nope', 'latin1'));
}

describe.skipIf(!LIVE)(
  `test driver save/restore vs libvirt's test driver${LIVE ? '' : ' (skipped: no python3-libvirt at /usr/bin/python3)'}`,
  () => {
    let ours: string;
    let theirs: string;
    beforeAll(() => {
      ours = mkdtempSync(join(tmpdir(), 'vk-events2-save-ours-'));
      theirs = mkdtempSync(join(tmpdir(), 'vk-events2-save-libvirt-'));
      seed(ours);
      seed(theirs);
    });
    afterAll(() => {
      rmSync(ours, { recursive: true, force: true });
      rmSync(theirs, { recursive: true, force: true });
    });

    it('gives the same outcome, error code, events, states, reasons and memory at every step', async () => {
      const expected = runLibvirt(STEPS, theirs);
      const got = await runVirtkit(STEPS, ours);
      expect(got).toHaveLength(expected.length);
      // the script reaches each error libvirt has for these calls
      expect(new Set(expected.filter((r) => !r.ok).map((r) => r.code))).toEqual(
        new Set([
          'OPERATION_INVALID',
          'SYSTEM_ERROR',
          'INTERNAL_ERROR',
          'XML_DETAIL',
          'INVALID_ARG',
          'OPERATION_FAILED',
        ]),
      );
      for (let i = 0; i < STEPS.length; i++)
        expect(got[i], `step ${i}: ${JSON.stringify(STEPS[i])}`).toEqual(expected[i]);
    });

    it("each restores the other's save file to the same domain", async () => {
      const script: Step[] = [
        { op: 'destroy', dom: 'test' },
        { op: 'restore', file: 'a.img' },
        { op: 'state', dom: 'test' },
        { op: 'xml', dom: 'test' },
      ];
      const libvirtFromOurs = runLibvirt(script, ours);
      const oursFromLibvirt = await runVirtkit(script, theirs);
      expect(oursFromLibvirt).toEqual(libvirtFromOurs);
      expect(oursFromLibvirt[2]?.value).toEqual(['running', 'restored']);
    });
  },
);
