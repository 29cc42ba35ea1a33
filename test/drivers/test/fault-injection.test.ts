import { describe, expect, it } from 'vitest';
import { connect } from '../../../src/connection.js';
import { TestControl } from '../../../src/drivers/test/index.js';
import { VirError } from '../../../src/errors.js';

const xml = (name: string) =>
  `<domain type='test'><name>${name}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>`;

async function open() {
  const control = new TestControl();
  const conn = await connect('test:///default', { driverOptions: { control } });
  return { control, conn };
}

describe('fault injection', () => {
  it('fails the next call of a method with the chosen code, then behaves again', async () => {
    const { control, conn } = await open();
    const d = await conn.defineDomain(xml('a'));
    control.fail('domainStart', { code: 'OPERATION_FAILED', message: 'disk image is locked' });
    const err = await d.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VirError);
    expect(err).toMatchObject({ code: 'OPERATION_FAILED', message: 'disk image is locked' });
    // a failed call leaves no trace
    expect(await d.getState()).toEqual({ state: 'shutoff', reason: 'unknown' });
    expect(control.pending).toBe(0);
    await d.start();
    expect(await d.getState()).toEqual({ state: 'running', reason: 'booted' });
    await conn.close();
  });

  it('counts `times`, matches predicates on the domain, and can be removed', async () => {
    const { control, conn } = await open();
    const a = await conn.defineDomain(xml('a'));
    const b = await conn.defineDomain(xml('b'));
    const fault = control.fail(
      ['domainStart', 'domainDestroy'],
      { code: 'RESOURCE_BUSY' },
      {
        times: 2,
        when: (call) => call.domain?.name === 'b',
      },
    );
    await a.start(); // not matched
    await expect(b.start()).rejects.toMatchObject({ code: 'RESOURCE_BUSY', message: /domainStart \(b\)/ });
    expect(fault.remaining).toBe(1);
    await expect(b.start()).rejects.toMatchObject({ code: 'RESOURCE_BUSY' });
    expect(fault.remaining).toBe(0);
    await b.start();
    const all = control.fail('*', new VirError('OPERATION_TIMEOUT', 'test', 'hypervisor hung'), {
      times: Number.POSITIVE_INFINITY,
    });
    await expect(conn.listDomains()).rejects.toMatchObject({
      code: 'OPERATION_TIMEOUT',
      message: 'hypervisor hung',
    });
    await expect(conn.getNodeInfo()).rejects.toMatchObject({ code: 'OPERATION_TIMEOUT' });
    all.remove();
    expect((await conn.listDomains()).length).toBe(3);
    await conn.close();
  });

  it('matches define and create calls on their XML', async () => {
    const { control, conn } = await open();
    control.fail(
      ['defineDomain', 'createDomain'],
      { code: 'XML_ERROR', message: 'no web servers today' },
      {
        times: Number.POSITIVE_INFINITY,
        when: (call) => call.xml?.includes('<name>web</name>') === true,
      },
    );
    await expect(conn.defineDomain(xml('web'))).rejects.toMatchObject({ code: 'XML_ERROR' });
    await expect(conn.createDomain(xml('web'))).rejects.toMatchObject({ code: 'XML_ERROR' });
    expect((await conn.defineDomain(xml('db'))).name).toBe('db');
    await expect(conn.lookupDomain('web')).rejects.toMatchObject({ code: 'NO_DOMAIN' });
    await conn.close();
  });

  it('adds latency that an AbortSignal cuts short, leaving the domain untouched', async () => {
    const { control, conn } = await open();
    const d = await conn.defineDomain(xml('a'));
    control.delay('domainStart', 60_000);
    const ac = new AbortController();
    const pending = d.start({ signal: ac.signal });
    setTimeout(() => ac.abort(), 5);
    await expect(pending).rejects.toMatchObject({ code: 'OPERATION_ABORTED' });
    expect(await d.getState()).toEqual({ state: 'shutoff', reason: 'unknown' });
    control.clear();
    await d.start();
    await conn.close();
  });

  it('runs calls on one domain one at a time, in call order (job lock)', async () => {
    const { control, conn } = await open();
    const d = await conn.lookupDomain('test');
    // suspend is slow; resume is issued while it is still running and must wait for it
    control.delay('domainSuspend', 30, { times: 1 });
    const order: string[] = [];
    const s = d.suspend().then(() => order.push('suspend'));
    const r = d.resume().then(() => order.push('resume'));
    await Promise.all([s, r]);
    expect(order).toEqual(['suspend', 'resume']);
    expect(await d.getState()).toEqual({ state: 'running', reason: 'unpaused' });
    await conn.close();
  });

  it('lets calls on other domains through while one domain is busy', async () => {
    const { control, conn } = await open();
    const a = await conn.defineDomain(xml('a'));
    const test = await conn.lookupDomain('test');
    control.delay('domainStart', 60_000);
    const slow = a.start();
    await test.suspend();
    expect(await test.getState()).toEqual({ state: 'paused', reason: 'user' });
    await conn.close();
    await expect(slow).rejects.toMatchObject({ code: 'INVALID_CONN' });
  });

  it('rejects calls still pending when the connection closes', async () => {
    const { control, conn } = await open();
    const d = await conn.lookupDomain('test');
    control.delay('*', 60_000);
    const pending = [d.suspend(), d.destroy(), conn.listDomains()];
    await conn.close();
    for (const p of pending) await expect(p).rejects.toMatchObject({ code: 'INVALID_CONN' });
  });

  it('one control drives one open connection at a time', async () => {
    const { control, conn } = await open();
    await expect(connect('test:///default', { driverOptions: { control } })).rejects.toMatchObject({
      code: 'OPERATION_INVALID',
    });
    await conn.close();
    const again = await connect('test:///default', { driverOptions: { control } });
    control.crashGuest('test');
    expect(await (await again.lookupDomain('test')).getState()).toEqual({
      state: 'shutoff',
      reason: 'crashed',
    });
    await again.close();
  });

  it('rejects a control that is not a TestControl, and bad fault arguments', async () => {
    // @ts-expect-error: the run-time check behind the type, for callers without types
    await expect(connect('test:///default', { driverOptions: { control: {} } })).rejects.toMatchObject({
      code: 'INVALID_ARG',
    });
    const control = new TestControl();
    expect(() => control.delay('domainStart', -1)).toThrow(expect.objectContaining({ code: 'INVALID_ARG' }));
    expect(() => control.fail('domainStart', { code: 'INTERNAL_ERROR' }, { times: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARG' }),
    );
  });

  it('creates paused domains (an extension: libvirt 9.0 test driver refuses the flag)', async () => {
    const { conn } = await open();
    const d = await conn.createDomain(xml('p'), { paused: true });
    expect(await d.getState()).toEqual({ state: 'paused', reason: 'user' });
    const e = await conn.defineDomain(xml('q'));
    await e.start({ paused: true });
    expect(await e.getState()).toEqual({ state: 'paused', reason: 'user' });
    await conn.close();
  });
});
