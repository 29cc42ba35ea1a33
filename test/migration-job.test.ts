/**
 * `Domain.migrateWithProgress` around a driver that cannot migrate (the test
 * driver, as libvirt's test driver has no migration): the job's `done`
 * rejects with NO_SUPPORT and its progress iterator ends with the same
 * error, and bad options are refused naming the field before any driver call.
 */
import { describe, expect, it } from 'vitest';
import { connect } from '../src/connection.js';
import type { VirError } from '../src/errors.js';

describe('migrateWithProgress', () => {
  it('ends its progress with the error done rejects with', async () => {
    const a = await connect('test:///default');
    const b = await connect('test:///default');
    const dom = await a.lookupDomain('test');
    const job = dom.migrateWithProgress(b, { live: true });
    const seen: unknown[] = [];
    const iterated = (async () => {
      for await (const p of job.progress) seen.push(p);
    })();
    await expect(job.done).rejects.toMatchObject({ code: 'NO_SUPPORT' });
    await expect(iterated).rejects.toMatchObject({ code: 'NO_SUPPORT' });
    expect(seen).toEqual([]);
    // one consumer
    const again = (await (async () => {
      try {
        for await (const _ of job.progress) break;
      } catch (e) {
        return e;
      }
      return undefined;
    })()) as VirError;
    expect(again.code).toBe('OPERATION_INVALID');
    expect((await dom.getState()).state).toBe('running');
    await a.close();
    await b.close();
  });

  it('refuses a bad timeout or bandwidth naming the field', async () => {
    const a = await connect('test:///default');
    const b = await connect('test:///default');
    const dom = await a.lookupDomain('test');
    await expect(dom.migrate(b, { timeout: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'timeout',
    });
    const job = dom.migrateWithProgress(b, { bandwidth: 1.5 });
    await expect(job.done).rejects.toMatchObject({ code: 'INVALID_ARG', field: 'bandwidth' });
    await a.close();
    await b.close();
  });
});
