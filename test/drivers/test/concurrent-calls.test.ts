/**
 * Many calls in flight on one domain, with no signal of the caller's: each
 * waits in the domain's job queue, and all of them also wait on the
 * connection's closing. None may add its own listener to a shared signal
 * (Node warns from the eleventh: MaxListenersExceededWarning), and closing
 * the connection still ends every waiter.
 */
import { describe, expect, it } from 'vitest';
import { connect, TestControl } from '../../../src/index.js';

async function warningsDuring(body: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (w: Error) => seen.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  try {
    await body();
    await new Promise((r) => setTimeout(r, 20)); // warnings are emitted on a later tick
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

describe('concurrent calls on one test domain', () => {
  it('queue behind each other without a MaxListenersExceededWarning', async () => {
    const control = new TestControl();
    control.delay('domainGetInfo', 2);
    const conn = await connect('test:///default', { driverOptions: { control } });
    const dom = await conn.lookupDomain('test');
    const warnings = await warningsDuring(async () => {
      const infos = await Promise.all(Array.from({ length: 30 }, () => dom.getInfo()));
      expect(infos.map((i) => i.state)).toEqual(Array(30).fill('running'));
    });
    expect(warnings).toEqual([]);
    await conn.close();
  });

  it('all end with an error when the connection closes while they wait', async () => {
    const control = new TestControl();
    control.delay('domainGetInfo', 60_000);
    const conn = await connect('test:///default', { driverOptions: { control } });
    const dom = await conn.lookupDomain('test');
    const calls = Array.from({ length: 30 }, () =>
      dom.getInfo().then(
        () => 'done',
        (e: { code?: string }) => e.code,
      ),
    );
    await new Promise((r) => setTimeout(r, 10));
    await conn.close();
    const codes = await Promise.all(calls);
    expect(new Set(codes).size).toBe(1);
    expect(codes[0]).not.toBe('done');
  });
});
