import { describe, expect, it } from 'vitest';
import { JobLocks } from '../../../src/drivers/test/job-lock.js';

describe('JobLocks', () => {
  it('serves waiters in arrival order, one at a time per key', async () => {
    const locks = new JobLocks();
    const log: string[] = [];
    const job = async (name: string) => {
      const release = await locks.acquire('d', undefined);
      log.push(`${name} in`);
      await new Promise((r) => setImmediate(r));
      log.push(`${name} out`);
      release();
    };
    await Promise.all([job('a'), job('b'), job('c')]);
    expect(log).toEqual(['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
    expect(locks.busy('d')).toBe(false);
  });

  it('lets other keys through while one is held', async () => {
    const locks = new JobLocks();
    const held = await locks.acquire('a', undefined);
    const other = await locks.acquire('b', undefined);
    other();
    held();
    expect(locks.busy('a') || locks.busy('b')).toBe(false);
  });

  it('drops an aborted waiter without blocking the ones behind it', async () => {
    const locks = new JobLocks();
    const first = await locks.acquire('d', undefined);
    const ac = new AbortController();
    const second = locks.acquire('d', ac.signal);
    const third = locks.acquire('d', undefined);
    ac.abort();
    await expect(second).rejects.toMatchObject({ code: 'OPERATION_ABORTED' });
    first();
    const release = await third;
    release();
    expect(locks.busy('d')).toBe(false);
  });

  it('refuses at once when the signal has already fired and the key is busy', async () => {
    const locks = new JobLocks();
    const first = await locks.acquire('d', undefined);
    await expect(locks.acquire('d', AbortSignal.abort())).rejects.toMatchObject({
      code: 'OPERATION_ABORTED',
    });
    first();
    await new Promise((r) => setImmediate(r));
    expect(locks.busy('d')).toBe(false);
  });
});
