import { describe, expect, it } from 'vitest';
import { connect } from '../src/connection.js';
import { VirError } from '../src/errors.js';

const xml = (name: string) =>
  `<domain type='test'><name>${name}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>`;

describe('Connection on test:///default', () => {
  it('opens a fresh host per connection with the running domain test (id 1)', async () => {
    const a = await connect();
    const b = await connect('test:///default');
    await (await a.lookupDomain('test')).destroy();
    const t = await b.lookupDomain('test');
    expect(t.toJSON()).toEqual({ name: 'test', uuid: '6695eb01-f6a4-8304-79aa-97f2502e193f', id: 1 });
    expect(await t.getState()).toEqual({ state: 'running', reason: 'unknown' });
    expect(a.type).toBe('TEST');
    await a.close();
    await b.close();
  });

  it('reports the host as virsh -c test:///default nodeinfo and version do', async () => {
    const conn = await connect('test:///default');
    expect(await conn.getNodeInfo()).toEqual({
      model: 'i686',
      memory: 3145728,
      cpus: 16,
      mhz: 1400,
      nodes: 2,
      sockets: 2,
      cores: 2,
      threads: 2,
    });
    expect(await conn.getVersion()).toBe(2);
    await conn.close();
  });

  it('looks domains up by name, UUID (with or without dashes, any case) and id', async () => {
    const conn = await connect('test:///default');
    expect((await conn.lookupDomain('test')).id).toBe(1);
    expect((await conn.lookupDomain('6695EB01F6A4830479AA97F2502E193F')).name).toBe('test');
    expect((await conn.lookupDomain({ uuid: '6695eb01-f6a4-8304-79aa-97f2502e193f' })).name).toBe('test');
    expect((await conn.lookupDomain(1)).name).toBe('test');
    for (const key of ['nope', 2, { uuid: '00000000-0000-0000-0000-000000000000' }] as const) {
      await expect(conn.lookupDomain(key)).rejects.toMatchObject({ code: 'NO_DOMAIN' });
    }
    await expect(conn.lookupDomain(-1)).rejects.toMatchObject({ code: 'INVALID_ARG' });
    await conn.close();
  });

  it('a name that looks like a UUID is still found by name', async () => {
    const conn = await connect('test:///default');
    const name = '11111111-2222-3333-4444-555555555555';
    const d = await conn.defineDomain(xml(name));
    expect((await conn.lookupDomain(name)).uuid).toBe(d.uuid);
    await conn.close();
  });

  it('filters listDomains by activity, persistence, state and autostart', async () => {
    const conn = await connect('test:///default');
    const a = await conn.defineDomain(xml('a'));
    await a.setAutostart(true);
    expect(await a.getAutostart()).toBe(true);
    await conn.createDomain(xml('t'));
    const names = async (f: Parameters<typeof conn.listDomains>[0]) =>
      (await conn.listDomains(f)).map((d) => d.name).sort();
    expect(await names({})).toEqual(['a', 't', 'test']);
    expect(await names({ active: true })).toEqual(['t', 'test']);
    expect(await names({ active: false })).toEqual(['a']);
    expect(await names({ persistent: false })).toEqual(['t']);
    expect(await names({ state: ['shutoff', 'paused'] })).toEqual(['a']);
    expect(await names({ autostart: true })).toEqual(['a']);
    await conn.close();
  });

  it('ids count up across starts and are -1 while inactive', async () => {
    const conn = await connect('test:///default');
    const a = await conn.defineDomain(xml('a'));
    expect(a.id).toBe(-1);
    await a.start();
    expect(a.id).toBe(2);
    await a.destroy();
    expect(a.id).toBe(-1);
    await a.start();
    expect(a.id).toBe(3);
    await conn.close();
  });

  it('renames an inactive domain, and the handle follows', async () => {
    const conn = await connect('test:///default');
    const a = await conn.defineDomain(xml('a'));
    await a.rename('b');
    expect(a.name).toBe('b');
    expect((await conn.lookupDomain('b')).uuid).toBe(a.uuid);
    await expect(conn.lookupDomain('a')).rejects.toMatchObject({ code: 'NO_DOMAIN' });
    await conn.close();
  });

  it('refuses changes on a read-only connection', async () => {
    const conn = await connect('test:///default', { readonly: true });
    await expect(conn.defineDomain(xml('a'))).rejects.toMatchObject({ code: 'OPERATION_DENIED' });
    const t = await conn.lookupDomain('test');
    await expect(t.destroy()).rejects.toMatchObject({ code: 'OPERATION_DENIED' });
    expect(await t.getState()).toEqual({ state: 'running', reason: 'unknown' });
    await conn.close();
  });

  it('refuses every call once closed, with INVALID_CONN', async () => {
    const conn = await connect('test:///default');
    const t = await conn.lookupDomain('test');
    await conn.close();
    await conn.close();
    await expect(conn.listDomains()).rejects.toMatchObject({ code: 'INVALID_CONN' });
    await expect(t.getState()).rejects.toMatchObject({ code: 'INVALID_CONN' });
    expect(() => conn.events()).toThrow(VirError);
  });

  it('refuses URIs it cannot serve with NO_CONNECT', async () => {
    for (const uri of ['test:///', 'nope:///default', 'test+ssh://host/default']) {
      await expect(connect(uri), uri).rejects.toMatchObject({ code: 'NO_CONNECT' });
    }
  });

  it('validates memory and vCPU arguments before asking the driver', async () => {
    const conn = await connect('test:///default');
    const t = await conn.lookupDomain('test');
    await expect(t.setMemory(0)).rejects.toMatchObject({ code: 'INVALID_ARG' });
    await expect(t.setVcpus(1.5)).rejects.toMatchObject({ code: 'INVALID_ARG' });
    await expect(t.rename('')).rejects.toMatchObject({ code: 'INVALID_ARG' });
    await conn.close();
  });
});
