/**
 * The conformance runner's contract, on small data directories made here:
 * exit status, families it cannot run, and the known-gaps verdicts.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { judge, KNOWN_GAPS, knownGapCount } from '../../scripts/conformance/known-gaps.js';
import { REPO_ROOT } from '../shared-data.js';

const work = mkdtempSync(join(tmpdir(), 'virtkit-conformance-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function dataDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(work, 'data-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function runner(...args: string[]) {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'scripts/conformance.ts'), ...args],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('conformance runner', () => {
  it('exits 2 when the data directory does not exist', () => {
    const r = runner('--data', join(work, 'nowhere'));
    expect(r.status).toBe(2);
    expect(r.out).toContain('no conformance data');
  });

  it('exits 2 when --family names no family', () => {
    const r = runner('--data', dataDir({ 'capabilities/cases.json': '[]' }), '--family', 'nonsense');
    expect(r.status).toBe(2);
    expect(r.out).toContain('--family names nothing: nonsense');
  });

  it('fails a family whose cases.json is missing, empty or not JSON', () => {
    const r = runner(
      '--data',
      dataDir({ 'capabilities/cases.json': '[]', 'qemucaps/readme': 'x', 'domaincaps/cases.json': '{' }),
    );
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/capabilities: 0 passed, 1 failed/);
    expect(r.out).toContain('capabilities/cases.json has no capabilities cases');
    expect(r.out).toContain('qemucaps/cases.json is missing');
    expect(r.out).toContain('domaincaps/cases.json is not JSON');
  });

  it('fails every case of a folder no family claims, as not implemented', () => {
    const r = runner('--data', dataDir({ 'martian/cases.json': '[{"name":"a"},{"name":"b"}]' }));
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/^martian: 0 passed, 2 failed/m);
    expect(r.out).toContain('FAIL a: not implemented');
  });

  it('prints domainxml/qemu per category, and fails a case missing its args file', () => {
    const entry = (name: string, category: string) => ({
      name: `qemu/${name}`,
      family: 'qemu',
      category,
      expect: 'success',
      input: `qemu/${name}.xml`,
      output: `qemu/${name}.out.xml`,
    });
    const data = dataDir({
      'domainxml/cases.json': JSON.stringify([entry('a', 'cpu'), entry('b', 'disk'), entry('c', 'disk')]),
      'domainxml/qemu/a.xml': '<domain/>',
      'domainxml/qemu/a.out.xml': '<domain/>',
    });
    const gaps = join(data, 'gaps.json');
    writeFileSync(gaps, '{}');
    const r = runner('--data', data, '--family', 'domainxml/qemu', '--known-gaps', gaps);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/^domainxml\/qemu: 0 passed, 3 failed \(3 UNEXPECTED\)$/m);
    expect(r.out).toMatch(/^ {2}category cpu: 0 passed, 1 failed \(1 UNEXPECTED\)$/m);
    expect(r.out).toMatch(/^ {2}category disk: 0 passed, 2 failed \(2 UNEXPECTED\)$/m);
    expect(r.out).toMatch(/FAIL qemu\/a: bad data: .*args/);
  });

  it('ends with a closing line counting real failures, and known gaps as skipped', () => {
    const r = runner('--data', dataDir({ 'martian/cases.json': '[{"name":"a"}]' }));
    expect(r.out.trimEnd().split('\n').at(-1)).toBe('0 passed, 1 failed, 0 skipped');
  });
});

describe('known gaps', () => {
  it('every entry has a reason, and the count is what the file lists', () => {
    const total = Object.values(KNOWN_GAPS).reduce((n, f) => n + Object.keys(f).length, 0);
    expect(knownGapCount()).toBe(total);
    for (const [family, cases] of Object.entries(KNOWN_GAPS)) {
      for (const [name, reason] of Object.entries(cases))
        expect(reason.length, `${family} ${name}`).toBeGreaterThan(0);
    }
  });

  it('sorts results into passed, known, unexpected and stale', () => {
    // a list of its own: the project's list shrinks towards empty
    const list = { fam: { 'gap-1': 'broken', 'gap-2': 'broken', 'gap-3': 'broken' } };
    const v = judge(
      'fam',
      [
        { name: 'gap-1', ok: false, reason: 'still broken' },
        { name: 'gap-2', ok: true },
        { name: 'not-a-gap', ok: false, reason: 'regressed' },
        { name: 'fine', ok: true },
      ],
      list,
    );
    expect(v.known.map((c) => c.name)).toEqual(['gap-1']);
    expect(v.unexpected.map((c) => c.name)).toEqual(['not-a-gap']);
    expect(v.passed.map((c) => c.name)).toEqual(['gap-2', 'fine']);
    expect(v.stale).toEqual([
      { name: 'gap-2', why: 'passes' },
      { name: 'gap-3', why: 'no such case' },
    ]);
  });
});
