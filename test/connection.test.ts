import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainDef } from '../src/conf/domain/domain-def.js';
import { Connection, connect } from '../src/connection.js';
import type { DomainRef, DriverConnection } from '../src/driver.js';
import { VirError } from '../src/errors.js';
import { parseUri } from '../src/uri.js';
import { type Daemon, LIBVIRTD, startLibvirtd } from './drivers/remote/libvirtd.js';

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

describe('Domain.getDefinition: the definition typed, in every driver', () => {
  it('gives the test driver its own DomainDef, the same document getXML gives', async () => {
    const conn = await connect('test:///default');
    const t = await conn.lookupDomain('test');
    const live = await t.getDefinition();
    expect(live).toBeInstanceOf(DomainDef);
    expect(live.toXML()).toBe(await t.getXML());
    expect(live.id).toBe(1);
    const next = await t.getDefinition({ inactive: true });
    expect(next.toXML({ inactive: true })).toBe(await t.getXML({ inactive: true }));
    await conn.close();
  });

  it('round-trips an edited definition through defineDomain', async () => {
    const conn = await connect('test:///default');
    const d = await conn.defineDomain(xml('edit'));
    const def = await d.getDefinition();
    def.memory = { unit: 'KiB', value: 131072 };
    def.currentMemory = { unit: 'KiB', value: 131072 };
    // the copy is the caller's: nothing changed until it is defined again
    expect((await d.getInfo()).maxMem).toBe(65536);
    await conn.defineDomain(def);
    expect((await d.getInfo()).maxMem).toBe(131072);
    expect((await d.getDefinition()).toXML()).toBe(await d.getXML());
    await conn.close();
  });

  it('parses the XML for a driver that keeps no DomainDef', async () => {
    const ref: DomainRef = { name: 'x', uuid: '5b3a0cbe-55a4-4cc4-8a34-0d4a3f1e1d01', id: -1 };
    const driver: DriverConnection = {
      type: 'STUB',
      close: async () => {},
      getCapabilities: async () => {
        throw new VirError('NO_SUPPORT', 'test', 'stub');
      },
      listDomains: async () => [ref],
      lookupDomain: async () => ref,
      domainGetXml: async () =>
        `<domain type='kvm'><name>x</name><uuid>${ref.uuid}</uuid><memory>1024</memory><os><type arch='x86_64'>hvm</type></os></domain>`,
    } as DriverConnection;
    const conn = new Connection(parseUri('test:///default'), driver, false);
    const def = await (await conn.lookupDomain('x')).getDefinition();
    expect(def).toBeInstanceOf(DomainDef);
    expect(def.uuid).toBe(ref.uuid);
    expect(def.currentMemory?.value).toBe(1024);
  });
});

describe.skipIf(!LIBVIRTD)('Domain.getDefinition over the remote driver (private libvirtd)', () => {
  let daemon: Daemon | undefined;
  beforeAll(async () => {
    daemon = await startLibvirtd();
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it("reads the daemon's XML into a DomainDef", async () => {
    const conn = await connect(daemon!.unixUri);
    const t = await conn.lookupDomain('test');
    const xmlText = await t.getXML();
    const def = await t.getDefinition();
    expect(def).toBeInstanceOf(DomainDef);
    expect(def.name).toBe('test');
    // libvirt already wrote its defaults: the model formats the same document back
    expect(def.toXML()).toBe(xmlText);
    await conn.close();
  });
});
