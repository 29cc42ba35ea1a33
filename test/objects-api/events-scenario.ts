/**
 * Pool, network and secret events of one scenario, as virtkit delivers them
 * and (in Python, with libvirt's event loop) as libvirt does, in the form
 * `kind:name:event`.
 */
import type { Connection } from '../../src/connection.js';
import type { ObjectEvent } from '../../src/driver-objects.js';
import { waitFor } from '../wait-for.js';

const POOL = "<pool type='dir'><name>ev</name><target><path>/ev</path></target></pool>";
const NET = "<network><name>evnet</name><bridge name='evbr0'/></network>";

export function eventName(e: ObjectEvent): string {
  if (e.type === 'storagePool') return `pool:${e.pool.name}:${e.event}`;
  if (e.type === 'network') return `net:${e.network.name}:${e.event}`;
  if (e.type === 'secret') return `secret:${e.secret.usageId}:${e.event}`;
  return `nodedev:${e.device.name}:${e.event}`;
}

/**
 * Runs the scenario; `pause` lets the events of a step arrive (a remote
 * daemon sends them after the reply), and at the end it waits up to 20 s for
 * `expect` events in all, so a loaded machine does not cut the stream short.
 */
export async function eventSteps(
  conn: Connection,
  pause: () => Promise<void>,
  expect = 0,
): Promise<string[]> {
  const seen: string[] = [];
  const streams = [conn.storagePools.events(), conn.networks.events()];
  const pumps = streams.map(async (s) => {
    for await (const e of s) seen.push(eventName(e));
  });
  const sp = conn.storagePools;
  const nets = conn.networks;
  const ops: Array<() => Promise<unknown>> = [
    () => sp.define(POOL),
    async () => (await sp.lookup('ev')).build(),
    async () => (await sp.lookup('ev')).start(),
    async () => (await sp.lookup('ev')).refresh(),
    async () => (await sp.lookup('ev')).destroy(),
    async () => (await sp.lookup('ev')).undefine(),
    () => sp.create(POOL.replace('>ev<', '>ev2<').replace('/ev<', '/ev2<')),
    async () => (await sp.lookup('ev2')).destroy(),
    () => nets.define(NET),
    async () => (await nets.lookup('evnet')).start(),
    async () => (await nets.lookup('evnet')).destroy(),
    async () => (await nets.lookup('evnet')).undefine(),
  ];
  for (const op of ops) {
    await op();
    await pause();
  }
  // short of them, the caller's comparison says which are missing
  await waitFor(() => seen.length >= expect, { what: `${expect} events` }).catch(() => {});
  for (const s of streams) s.end();
  await Promise.all(pumps);
  return seen;
}

export const EVENTS_PY = `
libvirt.virEventRegisterDefaultImpl()
seen = []
def drain():
    done = [False]
    t = libvirt.virEventAddTimeout(100, lambda *_: done.__setitem__(0, True), None)
    while not done[0]:
        libvirt.virEventRunDefaultImpl()
    libvirt.virEventRemoveTimeout(t)
P = ['defined', 'undefined', 'started', 'stopped', 'created', 'deleted']
N = ['defined', 'undefined', 'started', 'stopped']
conn2 = libvirt.open(sys.argv[1])
conn2.storagePoolEventRegisterAny(None, libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, lambda c, p, e, d, o: seen.append('pool:%s:%s' % (p.name(), P[e])), None)
conn2.storagePoolEventRegisterAny(None, libvirt.VIR_STORAGE_POOL_EVENT_ID_REFRESH, lambda c, p, o: seen.append('pool:%s:refreshed' % p.name()), None)
conn2.networkEventRegisterAny(None, libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE, lambda c, n, e, d, o: seen.append('net:%s:%s' % (n.name(), N[e])), None)
POOL = "${POOL}"
NET = "${NET}"
ops = [
    lambda: conn2.storagePoolDefineXML(POOL),
    lambda: conn2.storagePoolLookupByName('ev').build(),
    lambda: conn2.storagePoolLookupByName('ev').create(),
    lambda: conn2.storagePoolLookupByName('ev').refresh(),
    lambda: conn2.storagePoolLookupByName('ev').destroy(),
    lambda: conn2.storagePoolLookupByName('ev').undefine(),
    lambda: conn2.storagePoolCreateXML(POOL.replace('>ev<', '>ev2<').replace('/ev<', '/ev2<')),
    lambda: conn2.storagePoolLookupByName('ev2').destroy(),
    lambda: conn2.networkDefineXML(NET),
    lambda: conn2.networkLookupByName('evnet').create(),
    lambda: conn2.networkLookupByName('evnet').destroy(),
    lambda: conn2.networkLookupByName('evnet').undefine(),
]
for op in ops:
    op()
    drain()
steps = [('events', lambda: seen)]
`;
