import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { connect } from '../../../src/connection.js';
import { VirError } from '../../../src/errors.js';
import { fixture } from '../../shared-data.js';
import { hasPythonLibvirt } from './differential-runner.js';

const NODE = fixture('test-driver', 'node.xml');

/** What `virsh -c test:///…/node.xml list --all`, `domstate --reason` and `dominfo` printed for the fixture. */
const VIRSH_FACTS = [
  {
    name: 'web',
    id: 1,
    state: 'running',
    reason: 'unknown',
    maxMem: 524288,
    memory: 524288,
    vcpus: 2,
    persistent: true,
    managedSave: false,
  },
  {
    name: 'db',
    id: 2,
    state: 'running',
    reason: 'unknown',
    maxMem: 2097152,
    memory: 1048576,
    vcpus: 2,
    persistent: true,
    managedSave: false,
  },
  {
    name: 'batch',
    id: 3,
    state: 'paused',
    reason: 'unknown',
    maxMem: 1048576,
    memory: 1048576,
    vcpus: 1,
    persistent: true,
    managedSave: false,
  },
  {
    name: 'scratch',
    id: 4,
    state: 'running',
    reason: 'unknown',
    maxMem: 131072,
    memory: 131072,
    vcpus: 1,
    persistent: false,
    managedSave: false,
  },
  {
    name: 'spare',
    id: -1,
    state: 'shutoff',
    reason: 'unknown',
    maxMem: 262144,
    memory: 262144,
    vcpus: 1,
    persistent: true,
    managedSave: true,
  },
];

async function ourFacts(uri: string) {
  const conn = await connect(uri);
  const out = [];
  for (const d of await conn.listDomains()) {
    const s = await d.getState();
    const i = await d.getInfo();
    out.push({
      name: d.name,
      id: d.id,
      state: s.state,
      reason: s.reason,
      maxMem: i.maxMem,
      memory: i.memory,
      vcpus: i.nrVirtCpu,
      persistent: await d.isPersistent(),
      managedSave: await d.hasManagedSave(),
    });
  }
  const node = await conn.getNodeInfo();
  await conn.close();
  return { domains: out.sort((a, b) => a.id - b.id || a.name.localeCompare(b.name)), node };
}

describe('test:///path/node.xml config files', () => {
  it('loads inline and file= domains with runstate, transient and hasmanagedsave as virsh shows them', async () => {
    const { domains, node } = await ourFacts(`test://${NODE}`);
    // ids are handed out in file order to the active domains, as virsh lists them
    expect(domains).toEqual([...VIRSH_FACTS].sort((a, b) => a.id - b.id || a.name.localeCompare(b.name)));
    expect(node).toEqual({
      model: 'x86_64',
      memory: 16777216,
      cpus: 8,
      mhz: 3000,
      nodes: 1,
      sockets: 1,
      cores: 4,
      threads: 2,
    });
  });

  it.skipIf(!hasPythonLibvirt())('matches libvirt reading the same file (python3-libvirt)', async () => {
    const script = `
import libvirt, json, sys
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
S = ['nostate','running','blocked','paused','shutdown','shutoff','crashed','pmsuspended']
out = []
for d in c.listAllDomains():
    st, r = d.state(); i = d.info()
    out.append({'name': d.name(), 'id': d.ID(), 'state': S[st], 'maxMem': i[1], 'memory': i[2], 'vcpus': i[3],
                'persistent': bool(d.isPersistent()), 'managedSave': bool(d.hasManagedSaveImage(0)), 'reason0': r == 0})
n = c.getInfo()
print(json.dumps({'domains': out, 'node': {'model': n[0], 'memory': n[1] * 1024, 'cpus': n[2], 'mhz': n[3], 'nodes': n[4], 'sockets': n[5], 'cores': n[6], 'threads': n[7]}}))
`;
    const r = spawnSync('/usr/bin/python3', ['-c', script, `test://${NODE}`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const theirs = JSON.parse(r.stdout) as {
      domains: { name: string; id: number; reason0: boolean }[];
      node: Record<string, unknown>;
    };
    const ours = await ourFacts(`test://${NODE}`);
    const norm = <T extends { name: string; id: number }>(ds: T[]): T[] =>
      [...ds].sort((a, b) => a.id - b.id || a.name.localeCompare(b.name));
    expect(
      norm(ours.domains).map(({ reason, ...rest }) => ({ ...rest, reason0: reason === 'unknown' })),
    ).toEqual(norm(theirs.domains));
    // getInfo reports memory in MiB; nodeinfo in KiB: compare at MiB precision
    expect({ ...ours.node, memory: Math.floor(ours.node.memory / 1024) * 1024 }).toEqual(theirs.node);
  });

  it('assigns the next id after the ones the file used', async () => {
    const conn = await connect(`test://${NODE}`);
    const spare = await conn.lookupDomain('spare');
    await spare.start();
    expect(spare.id).toBe(5);
    // starting discards the managed save image, as libvirt's test driver does
    expect(await spare.hasManagedSave()).toBe(false);
    await conn.close();
  });

  it('has no NUMA cells in its capabilities, as libvirt reports for a config file', async () => {
    const conn = await connect(`test://${NODE}`);
    const caps = await conn.getCapabilities();
    expect(caps.toXML()).toContain("<cells num='0'");
    await conn.close();
  });

  it.each([
    ['missing file', 'no-such-node.xml', /no such file/],
    ['malformed XML', 'malformed.xml', /malformed\.xml/],
    ['wrong root element', 'wrong-root.xml', /expecting root element of 'node', not 'host'/],
    ['missing file= reference', 'missing-ref.xml', /missing-domain\.xml/],
    ['domain without a name', 'nameless-domain.xml', /missing name information/],
  ])('refuses a %s with NO_CONNECT and the reason', async (_what, file, reason) => {
    const err = await connect(`test://${fixture('test-driver', file)}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VirError);
    expect((err as VirError).code).toBe('NO_CONNECT');
    expect((err as VirError).message).toMatch(reason);
  });

  it('gives the line of a malformed config file', async () => {
    const err = (await connect(`test://${fixture('test-driver', 'malformed.xml')}`).catch(
      (e: unknown) => e,
    )) as VirError;
    expect(err.line).toBeGreaterThanOrEqual(1);
  });
});
