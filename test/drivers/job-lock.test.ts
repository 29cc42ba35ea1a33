import { describe, expect, it } from 'vitest';
import { DomainJobs } from '../../src/drivers/job-lock.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('DomainJobs (the one domain job lock of every driver)', () => {
  it('runs jobs on one domain one at a time, in arrival order', async () => {
    const jobs = new DomainJobs('test');
    const trace: string[] = [];
    const job = (n: number, ms: number) =>
      jobs.run('d', `j${n}`, async () => {
        trace.push(`begin ${n}`);
        await new Promise((r) => setTimeout(r, ms));
        trace.push(`end ${n}`);
        return n;
      });
    expect(await Promise.all([job(1, 30), job(2, 1), job(3, 10)])).toEqual([1, 2, 3]);
    expect(trace).toEqual(['begin 1', 'end 1', 'begin 2', 'end 2', 'begin 3', 'end 3']);
    expect(jobs.busy('d')).toBe(false);
  });

  it('lets jobs on other domains through while one is held', async () => {
    const jobs = new DomainJobs('test');
    let release!: () => void;
    const held = jobs.run('a', 'slow', () => new Promise<void>((r) => (release = r)));
    await expect(jobs.run('b', 'quick', () => 'b ran')).resolves.toBe('b ran');
    expect(jobs.busy('a')).toBe(true);
    release();
    await held;
    expect(jobs.busy('a') || jobs.busy('b')).toBe(false);
  });

  it('lets a waiter give up with OPERATION_ABORTED naming the running job, without breaking the queue', async () => {
    const jobs = new DomainJobs('qemu');
    let release!: () => void;
    const first = jobs.run('d', 'first', () => new Promise<void>((r) => (release = r)));
    const ac = new AbortController();
    const second = jobs.run('d', 'second', async () => 'ran', ac.signal);
    const third = jobs.run('d', 'third', async () => 'third ran');
    await tick();
    expect(jobs.holder('d')).toBe('first');
    ac.abort();
    await expect(second).rejects.toMatchObject({ code: 'OPERATION_ABORTED', domain: 'qemu' });
    await expect(second).rejects.toThrow(/first/);
    release();
    await first;
    await expect(third).resolves.toBe('third ran');
    expect(jobs.busy('d')).toBe(false);
  });

  it('refuses at once when the signal has already fired, and passes a VirError reason through', async () => {
    const jobs = new DomainJobs('test');
    await expect(jobs.run('d', 'x', () => 1, AbortSignal.abort())).rejects.toMatchObject({
      code: 'OPERATION_ABORTED',
    });
    const { VirError } = await import('../../src/errors.js');
    const reason = new VirError('OPERATION_TIMEOUT', 'test', 'too slow');
    await expect(jobs.run('d', 'x', () => 1, AbortSignal.abort(reason))).rejects.toBe(reason);
    await tick();
    expect(jobs.busy('d')).toBe(false);
  });

  it('releases the domain when a job throws', async () => {
    const jobs = new DomainJobs('test');
    await expect(jobs.run('d', 'bad', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(jobs.run('d', 'next', async () => 1)).resolves.toBe(1);
  });
});
