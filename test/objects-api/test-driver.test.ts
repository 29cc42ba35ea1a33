/**
 * The test driver's pools, volumes, networks and node devices against
 * libvirt's own test driver, through python3-libvirt: the same calls on
 * `test:///default` give the same results and error codes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../src/connection.js';
import { EVENTS_PY, eventSteps } from './events-scenario.js';
import { NETWORK_PY, networkSteps } from './network-scenario.js';
import { compare, HAVE_PYTHON_LIBVIRT, runLibvirt, runOurs } from './py-steps.js';
import { STORAGE_PY, storageSteps } from './storage-scenario.js';

/**
 * Steps where virtkit knowingly answers otherwise, with the reason: the
 * typed models raise `XML_DETAIL` (a bad value, naming the field) where
 * libvirt says `XML_ERROR`.
 */
const KNOWN = {
  'bad xml': { ours: 'XML_DETAIL', theirs: 'XML_ERROR' },
  'bad type': { ours: 'XML_DETAIL', theirs: 'XML_ERROR' },
};

describe.skipIf(!HAVE_PYTHON_LIBVIRT)('test driver objects, differential with libvirt', () => {
  it('storage pools and volumes follow libvirt test driver state machine', async () => {
    const conn = await connect('test:///default');
    const ours = await runOurs(storageSteps(conn));
    await conn.close();
    const theirs = runLibvirt('test:///default', STORAGE_PY);
    compare(ours, theirs, KNOWN);
  });

  it('networks and node devices follow libvirt test driver', async () => {
    const conn = await connect('test:///default');
    const ours = await runOurs(networkSteps(conn));
    await conn.close();
    compare(ours, runLibvirt('test:///default', NETWORK_PY), KNOWN);
  });

  it('pool and network events are the ones libvirt test driver queues, in order', async () => {
    const conn = await connect('test:///default');
    const ours = await eventSteps(conn, async () => {});
    await conn.close();
    const [theirs] = runLibvirt('test:///default', EVENTS_PY);
    expect(theirs).toEqual({ step: 'events', ok: true, value: ours });
    expect(ours).toContain('pool:ev:created');
  });
});

/**
 * A config file in libvirt's format with the kinds it may hold: an inline
 * pool with its volumes, a pool from its own file (whose nested volume
 * libvirt does not read), networks inline and from a file, a device.
 */
function writeConfig(): string {
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-objects-'));
  writeFileSync(
    join(dir, 'pool.xml'),
    "<pool type='dir'><name>filed</name><uuid>35bb2ad9-388a-cdfe-461a-b8907f6e53fe</uuid><target><path>/filed</path></target></pool>",
  );
  writeFileSync(join(dir, 'vol.xml'), '<volume><name>lost</name><capacity>1000</capacity></volume>');
  writeFileSync(
    join(dir, 'net.xml'),
    "<network><name>private</name><uuid>004b22212d78c30f5aa5f03c87d21e69</uuid><bridge name='brpriv'/></network>",
  );
  writeFileSync(
    join(dir, 'node.xml'),
    `<node>
  <pool type='dir'>
    <name>inline</name>
    <uuid>45bb2ad9-388a-cdfe-461a-b8907f6e53fe</uuid>
    <target><path>/inline</path></target>
    <volume><name>a</name><capacity>1000000</capacity><allocation>50000</allocation><target/></volume>
    <volume><name>b</name><key>my-key</key><capacity unit='K'>4</capacity><target><path>/elsewhere/b</path></target></volume>
  </pool>
  <pool file='pool.xml'><volume file='vol.xml'/></pool>
  <network file='net.xml'/>
  <network><name>inl</name><uuid>dd8fe884-6c02-601e-7551-cca97df1c5de</uuid><bridge name='brinl'/></network>
  <device><name>File_test_device</name><capability type='system'><hardware><vendor>V</vendor><uuid>11111111-2222-3333-4444-555555555555</uuid></hardware></capability></device>
</node>`,
  );
  return dir;
}

describe.skipIf(!HAVE_PYTHON_LIBVIRT)("a config file's pools, volumes, networks, devices", () => {
  it('are the objects libvirt test driver reads from it', async () => {
    const dir = writeConfig();
    try {
      const uri = `test://${join(dir, 'node.xml')}`;
      const conn = await connect(uri);
      const ours = await runOurs(configSteps(conn));
      await conn.close();
      compare(ours, runLibvirt(uri, CONFIG_PY));
      expect(JSON.stringify(ours)).toContain('my-key');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function configSteps(conn: Connection): Array<readonly [string, () => Promise<unknown>]> {
  return [
    [
      'pools',
      async () =>
        Promise.all(
          (await conn.storagePools.list()).map(async (p) => {
            const i = await p.getInfo();
            const vols = await Promise.all(
              (await p.listVolumes()).map(async (v) => {
                const vi = await v.getInfo();
                return [v.name, v.key, vi.capacity, vi.allocation];
              }),
            );
            return [p.name, p.uuid, i.capacity, i.allocation, i.available, vols.sort()];
          }),
        ).then((xs) => xs.sort()),
    ],
    [
      'networks',
      async () =>
        Promise.all(
          (await conn.networks.list()).map(async (n) => [
            n.name,
            n.uuid,
            await n.getBridgeName(),
            await n.isActive(),
          ]),
        ).then((xs) => xs.sort()),
    ],
    ['devices', async () => (await conn.nodeDevices.list()).map((d) => d.name).sort()],
  ];
}

const CONFIG_PY = `
def pools():
    out = []
    for p in conn.listAllStoragePools():
        i = p.info()
        vols = sorted([v.name(), v.key(), v.info()[1], v.info()[2]] for v in p.listAllVolumes())
        out.append([p.name(), p.UUIDString(), i[1], i[2], i[3], vols])
    return sorted(out)
steps = [
    ('pools', pools),
    ('networks', lambda: sorted([n.name(), n.UUIDString(), n.bridgeName(), n.isActive() == 1] for n in conn.listAllNetworks())),
    ('devices', lambda: sorted(d.name() for d in conn.listAllDevices())),
]
`;
