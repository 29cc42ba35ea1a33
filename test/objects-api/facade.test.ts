/**
 * The object API's facade: NO_SUPPORT for a driver without a kind,
 * read-only and closed connections, argument checks before the driver is
 * asked, and the test driver's secrets (libvirt's test driver has none to
 * compare with, so these follow libvirt's secret driver rules).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Capabilities } from '../../src/conf/capabilities.js';
import { connect } from '../../src/connection.js';
import type { DriverConnection, DriverFactory } from '../../src/driver.js';
import { registerDriver, unregisterDriver } from '../../src/drivers/registry.js';
import { VirError } from '../../src/errors.js';

async function code(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof VirError) return err.code;
    throw err;
  }
  return 'OK';
}

/** A hypervisor driver with no secondary drivers at all, as the qemu driver is for now. */
const bare: DriverFactory = {
  name: 'bare',
  accepts: (uri) => uri.driver === 'bare',
  async open(): Promise<DriverConnection> {
    return {
      type: 'BARE',
      close: async () => {},
      getCapabilities: async () =>
        new Capabilities({ host: { cpu: { arch: 'x86_64' } }, guests: [] } as never),
      listDomains: async () => [],
      lookupDomain: async () => {
        throw new VirError('NO_DOMAIN', 'domain', 'none');
      },
    };
  },
};

describe('object API facade', () => {
  beforeAll(() => registerDriver(bare));
  afterAll(() => unregisterDriver(bare));

  it('answers NO_SUPPORT, naming the kind, where the driver has no such sub-driver', async () => {
    const conn = await connect('bare:///x');
    for (const p of [
      conn.storagePools.list(),
      conn.storagePools.lookup('x'),
      conn.networks.list(),
      conn.secrets.list(),
      conn.nodeDevices.list(),
    ]) {
      expect(await code(p)).toBe('NO_SUPPORT');
    }
    await expect(conn.storagePools.list()).rejects.toThrow(/no storage driver/);
    await conn.close();
  });

  it('refuses writes on a read-only connection and every call on a closed one', async () => {
    const ro = await connect('test:///default', { readonly: true });
    const pool = await ro.storagePools.lookup('default-pool');
    expect(await code(pool.destroy())).toBe('OPERATION_DENIED');
    expect(await code(pool.createVolume('<volume><name>a</name><capacity>1</capacity></volume>'))).toBe(
      'OPERATION_DENIED',
    );
    expect(await code(ro.networks.define('<network><name>x</name></network>'))).toBe('OPERATION_DENIED');
    expect((await pool.getInfo()).state).toBe('running');
    await ro.close();
    expect(await code(pool.getInfo())).toBe('INVALID_CONN');
  });

  it('checks sizes, names, UUIDs and MACs before asking the driver', async () => {
    const conn = await connect('test:///default');
    const pool = await conn.storagePools.lookup('default-pool');
    const v = await pool.createVolume('<volume><name>a</name><capacity>1024</capacity></volume>');
    expect(await code(v.resize(-1))).toBe('INVALID_ARG');
    expect(await code(v.resize(2n ** 64n))).toBe('INVALID_ARG');
    expect(await code(v.resize(1.5))).toBe('INVALID_ARG');
    // a valid size reaches the driver, which has no resize (as libvirt's test driver)
    expect(await code(v.resize(2n ** 64n - 1n))).toBe('NO_SUPPORT');
    expect(await code(pool.lookupVolume(''))).toBe('INVALID_ARG');
    expect(await code(conn.secrets.lookup('not-a-uuid'))).toBe('INVALID_ARG');
    const net = await conn.networks.lookup('default');
    expect(await code(net.getDhcpLeases({ mac: 'zz' }))).toBe('INVALID_ARG');
    expect(await code(conn.nodeDevices.list({ cap: 'nope' as never }))).toBe('INVALID_ARG');
    await conn.close();
  });

  it('refuses a volume name with a slash and a capacity that does not fit, creating nothing', async () => {
    const conn = await connect('test:///default');
    const pool = await conn.storagePools.lookup('default-pool');
    expect(await code(pool.createVolume('<volume><name>a/b</name><capacity>1</capacity></volume>'))).toBe(
      'XML_ERROR',
    );
    expect(
      await code(
        pool.createVolume('<volume><name>c</name><capacity>18446744073709551616</capacity></volume>'),
      ),
    ).not.toBe('OK');
    expect(await code(pool.createVolume('<volume><name>d</name><capacity>-1</capacity></volume>'))).not.toBe(
      'OK',
    );
    expect(await pool.listVolumes()).toEqual([]);
    await conn.close();
  });

  it('volumes read back as typed definitions for their pool', async () => {
    const conn = await connect('test:///default');
    const pool = await conn.storagePools.lookup('default-pool');
    const v = await pool.createVolume("<volume><name>disk</name><capacity unit='G'>1</capacity></volume>");
    const def = await v.getDefinition();
    expect(def.capacity).toBe(1024n ** 3n);
    expect(def.key).toBe('/default-pool/disk');
    expect(def.target?.path).toBe('/default-pool/disk');
    expect((await pool.getDefinition()).type).toBe('dir');
    expect((await (await conn.networks.lookup('default')).getDefinition()).forwardMode).toBe('nat');
    await conn.close();
  });
});

describe('test driver secrets (libvirt secret driver rules)', () => {
  const uuid = 'c7a5fdbd-edaf-9455-926a-d65c16db1809';
  const xml = (u = uuid, vol = '/var/lib/images/a.img', priv = 'no') =>
    `<secret ephemeral='no' private='${priv}'><uuid>${u}</uuid><usage type='volume'><volume>${vol}</volume></usage></secret>`;

  it('defines, finds by UUID and usage, stores a copy of the value, undefines', async () => {
    const conn = await connect('test:///default');
    const s = await conn.secrets.define(xml());
    expect([s.uuid, s.usageType, s.usageId]).toEqual([uuid, 'volume', '/var/lib/images/a.img']);
    expect((await conn.secrets.lookup({ usageType: 'volume', usageId: '/var/lib/images/a.img' })).uuid).toBe(
      uuid,
    );
    expect(await code(s.getValue())).toBe('NO_SECRET');
    const value = new TextEncoder().encode('passphrase');
    await s.setValue(value);
    value.fill(0); // the caller wipes its copy; the driver kept its own
    const got = await s.getValue();
    expect(new TextDecoder().decode(got)).toBe('passphrase');
    got.fill(0);
    expect(new TextDecoder().decode(await s.getValue())).toBe('passphrase');
    // same usage under another UUID, and another usage for this UUID, are refused
    expect(await code(conn.secrets.define(xml('d7a5fdbd-edaf-9455-926a-d65c16db1809')))).toBe(
      'INTERNAL_ERROR',
    );
    expect(await code(conn.secrets.define(xml(uuid, '/other')))).toBe('INTERNAL_ERROR');
    expect((await conn.secrets.list()).map((x) => x.uuid)).toEqual([uuid]);
    await s.undefine();
    expect(await code(s.getValue())).toBe('NO_SECRET');
    expect(await code(conn.secrets.lookup(uuid))).toBe('NO_SECRET');
    await conn.close();
  });

  it('never gives the value of a private secret', async () => {
    const conn = await connect('test:///default');
    const s = await conn.secrets.define(xml(uuid, '/p', 'yes'));
    await s.setValue(new Uint8Array([1, 2, 3]));
    expect(await code(s.getValue())).toBe('INVALID_SECRET');
    expect(await code(s.setValue('text' as never))).toBe('INVALID_ARG');
    expect((await s.getXML()).includes("private='yes'")).toBe(true);
    await conn.close();
  });
});
