import { describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import type { DomainEvent } from '../../../src/driver.js';
import { TestControl } from '../../../src/drivers/test/index.js';

const xml = (name: string, extra = '') =>
  `<domain type='test'><name>${name}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>${extra}</domain>`;

/** Collects what a stream has buffered so far, without waiting for more. */
async function drain(conn: Connection, run: () => Promise<void>): Promise<string[]> {
  const ac = new AbortController();
  const seen: string[] = [];
  const stream = conn.events({ signal: ac.signal });
  const pump = (async () => {
    for await (const e of stream) seen.push(line(e));
  })();
  await run();
  await new Promise((r) => setImmediate(r));
  ac.abort();
  await pump;
  return seen;
}

const line = (e: DomainEvent) => `${e.domain.name}:${e.event}/${e.detail}`;

describe('test driver events', () => {
  it('delivers lifecycle events in call order with libvirt detail names', async () => {
    const conn = await connect('test:///default');
    const seen = await drain(conn, async () => {
      const d = await conn.defineDomain(xml('a'));
      await d.start();
      await d.suspend();
      await d.resume();
      await d.shutdown();
      await d.undefine();
    });
    expect(seen).toEqual([
      'a:defined/added',
      'a:started/booted',
      'a:suspended/paused',
      'a:resumed/unpaused',
      'a:stopped/shutdown',
      'a:undefined/removed',
    ]);
    await conn.close();
  });

  it('filters events', async () => {
    const conn = await connect('test:///default');
    const ac = new AbortController();
    const stream = conn.events({ signal: ac.signal, filter: (e) => e.event === 'stopped' });
    const d = await conn.lookupDomain('test');
    await d.suspend();
    await d.destroy();
    const first = await stream.next();
    expect(first.done).toBe(false);
    expect(first.value && line(first.value)).toBe('test:stopped/destroyed');
    ac.abort();
    expect((await stream.next()).done).toBe(true);
    await conn.close();
  });

  it('never blocks the driver on a slow consumer: the oldest events are dropped and counted', async () => {
    const conn = await connect('test:///default');
    const stream = conn.events({ bufferSize: 4 });
    const d = await conn.lookupDomain('test');
    for (let i = 0; i < 50; i++) {
      await d.suspend();
      await d.resume();
    }
    expect(stream.dropped).toBe(96);
    const kept: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await stream.next();
      if (r.value) kept.push(line(r.value));
    }
    expect(kept).toEqual([
      'test:suspended/paused',
      'test:resumed/unpaused',
      'test:suspended/paused',
      'test:resumed/unpaused',
    ]);
    await conn.close();
    expect((await stream.next()).done).toBe(true);
  });

  it('ends a waiting iterator when its signal aborts or the connection closes', async () => {
    const conn = await connect('test:///default');
    const ac = new AbortController();
    const a = conn.events({ signal: ac.signal });
    const b = conn.events();
    const pa = a.next();
    const pb = b.next();
    ac.abort();
    expect((await pa).done).toBe(true);
    await conn.close();
    expect((await pb).done).toBe(true);
  });

  it('a listener that throws does not undo the transition', async () => {
    const conn = await connect('test:///default');
    const stream = conn.events({
      filter: () => {
        throw new Error('consumer bug');
      },
    });
    const d = await conn.lookupDomain('test');
    await d.suspend();
    expect(await d.getState()).toEqual({ state: 'paused', reason: 'user' });
    stream.end();
    await conn.close();
  });
});

describe('guest-initiated transitions (TestControl)', () => {
  async function setup(extra = '') {
    const control = new TestControl();
    const conn = await connect('test:///default', { driverOptions: { control } });
    const d = await conn.defineDomain(xml('g', extra));
    await d.start();
    return { control, conn, d };
  }

  it('a crash with on_crash=destroy: crashed/panicked, then stopped/crashed, state shutoff (crashed)', async () => {
    const { control, conn, d } = await setup();
    const seen = await drain(conn, async () => control.crashGuest('g'));
    expect(seen).toEqual(['g:crashed/panicked', 'g:stopped/crashed']);
    expect(await d.getState()).toEqual({ state: 'shutoff', reason: 'crashed' });
    await conn.close();
  });

  it('a crash with on_crash=preserve leaves the guest crashed (panicked), still active', async () => {
    const { control, conn, d } = await setup('<on_crash>preserve</on_crash>');
    control.crashGuest('g');
    expect(await d.getState()).toEqual({ state: 'crashed', reason: 'panicked' });
    expect((await conn.listDomains({ active: true })).map((x) => x.name)).toContain('g');
    await d.destroy();
    expect(await d.getState()).toEqual({ state: 'shutoff', reason: 'destroyed' });
    await conn.close();
  });

  it('a crash with on_crash=restart boots the guest again with a new id', async () => {
    const { control, conn } = await setup('<on_crash>restart</on_crash>');
    const before = (await conn.lookupDomain('g')).id;
    const seen = await drain(conn, async () => control.crashGuest('g'));
    expect(seen).toEqual(['g:crashed/panicked', 'g:stopped/crashed', 'g:started/booted']);
    const after = await conn.lookupDomain('g');
    expect(after.id).toBe(before + 1);
    expect(await after.getState()).toEqual({ state: 'running', reason: 'booted' });
    await conn.close();
  });

  it('a crashed transient guest disappears', async () => {
    const control = new TestControl();
    const conn = await connect('test:///default', { driverOptions: { control } });
    await conn.createDomain(xml('t'));
    control.crashGuest('t');
    await expect(conn.lookupDomain('t')).rejects.toMatchObject({ code: 'NO_DOMAIN' });
    await conn.close();
  });

  it('a guest power-off: shutdown/guest then stopped/shutdown', async () => {
    const { control, conn, d } = await setup();
    const seen = await drain(conn, async () => control.guestShutdown('g'));
    expect(seen).toEqual(['g:shutdown/guest', 'g:stopped/shutdown']);
    expect(await d.getState()).toEqual({ state: 'shutoff', reason: 'shutdown' });
    await conn.close();
  });

  it('a guest reboot keeps it running (on_reboot=restart) or stops it (on_reboot=destroy)', async () => {
    const a = await setup();
    const seen = await drain(a.conn, async () => a.control.guestReboot('g'));
    expect(seen).toEqual([]);
    expect(await a.d.getState()).toEqual({ state: 'running', reason: 'booted' });
    await a.conn.close();
    const b = await setup('<on_reboot>destroy</on_reboot>');
    b.control.guestReboot('g');
    expect(await b.d.getState()).toEqual({ state: 'shutoff', reason: 'shutdown' });
    await b.conn.close();
  });

  it('refuses guest transitions of an inactive or unknown guest', async () => {
    const { control, conn, d } = await setup();
    await d.destroy();
    expect(() => control.crashGuest('g')).toThrow(expect.objectContaining({ code: 'OPERATION_INVALID' }));
    expect(() => control.guestShutdown('nope')).toThrow(expect.objectContaining({ code: 'NO_DOMAIN' }));
    await conn.close();
    expect(() => control.crashGuest('g')).toThrow(expect.objectContaining({ code: 'OPERATION_INVALID' }));
  });
});
