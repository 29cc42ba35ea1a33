/**
 * The owner file of a running guest (domains/owner-lock.ts), against real
 * processes: this one, its parent (alive, not us) and a pid no process has.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  acquireOwner,
  liveOwner,
  ownerPath,
  releaseOwner,
} from '../../../src/drivers/qemu/domains/owner-lock.js';
import { type TestRoots, tempRoots } from '../qemu-lifecycle/helpers.js';

let roots: TestRoots | undefined;
afterEach(() => roots?.remove());

/** Field 22 of /proc/<pid>/stat, read here without the code under test. */
function startTicks(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

describe('owner files', () => {
  it('is taken once, kept by a live other process, taken over when stale or damaged', () => {
    roots = tempRoots('vk-owner-');
    const path = ownerPath(roots.stateRoot, '.a name, with a dot');
    expect(acquireOwner(path)).toBeUndefined();
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({
      pid: process.pid,
      start: startTicks(process.pid),
    });
    // taking it again is a no-op for its owner
    expect(acquireOwner(path)).toBeUndefined();

    const parent = { pid: process.ppid, start: startTicks(process.ppid) };
    writeFileSync(path, JSON.stringify(parent));
    expect(acquireOwner(path)).toEqual(parent);
    expect(liveOwner(path)).toEqual(parent);
    // not ours: release leaves it
    releaseOwner(path);
    expect(liveOwner(path)).toEqual(parent);

    // the same pid with another start time is another process: the recorded owner is gone
    writeFileSync(path, JSON.stringify({ pid: process.ppid, start: '1' }));
    expect(liveOwner(path)).toBeUndefined();
    expect(acquireOwner(path)).toBeUndefined();
    // above Linux's pid_max: no process
    writeFileSync(path, JSON.stringify({ pid: 4_194_305, start: '5' }));
    expect(acquireOwner(path)).toBeUndefined();
    writeFileSync(path, '{"pid":');
    expect(acquireOwner(path)).toBeUndefined();
    releaseOwner(path);
    expect(liveOwner(path)).toBeUndefined();
    expect(() => readFileSync(path)).toThrow();
  });

  it('never leaves its temporary file behind', () => {
    roots = tempRoots('vk-owner-');
    const path = ownerPath(roots.stateRoot, 'g');
    acquireOwner(path);
    acquireOwner(path);
    expect(readdirSync(join(roots.stateRoot, 'qemu'))).toEqual(['g.owner']);
  });
});
