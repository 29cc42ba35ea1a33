import { describe, expect, it } from 'vitest';
import { connect } from '../../../src/connection.js';
import { parseXml } from '../../../src/xml/parse.js';
import { childElements, firstChild, getAttr, textContent } from '../../../src/xml/tree.js';

describe('test driver snapshots', () => {
  it('writes a <domainsnapshot> like libvirt: state, parent, creationTime, memory mode and the domain', async () => {
    const conn = await connect('test:///default');
    const t = await conn.lookupDomain('test');
    await t.createSnapshot('<domainsnapshot><name>one</name></domainsnapshot>');
    await t.destroy();
    await t.createSnapshot('<domainsnapshot><name>two</name><description>off</description></domainsnapshot>');
    const one = parseXml(await t.getSnapshotXML('one'));
    // element names and values as libvirt 9.0's test driver writes them (virsh snapshot-dumpxml)
    expect(childElements(one).map((e) => e.name)).toEqual([
      'name',
      'state',
      'creationTime',
      'memory',
      'domain',
    ]);
    expect(textContent(firstChild(one, 'state')!)).toBe('running');
    expect(getAttr(firstChild(one, 'memory')!, 'snapshot')).toBe('internal');
    const two = parseXml(await t.getSnapshotXML('two'));
    expect(childElements(two).map((e) => e.name)).toEqual([
      'name',
      'description',
      'state',
      'parent',
      'creationTime',
      'memory',
      'domain',
    ]);
    expect(textContent(firstChild(firstChild(two, 'parent')!, 'name')!)).toBe('one');
    expect(getAttr(firstChild(two, 'memory')!, 'snapshot')).toBe('no');
    expect(textContent(firstChild(firstChild(two, 'domain')!, 'name')!)).toBe('test');
    await conn.close();
  });

  it('names an unnamed snapshot after its creation time and makes it current', async () => {
    const conn = await connect('test:///default');
    const t = await conn.lookupDomain('test');
    const before = Math.floor(Date.now() / 1000);
    const name = await t.createSnapshot();
    expect(Number(name)).toBeGreaterThanOrEqual(before);
    const [info] = await t.listSnapshots();
    expect(info).toMatchObject({ name, state: 'running', current: true });
    expect(info?.parent).toBeUndefined();
    await conn.close();
  });

  it('a revert gives the handle the new id and restores the memory of that moment', async () => {
    const conn = await connect('test:///default');
    const t = await conn.lookupDomain('test');
    await t.setMemory(1048576);
    await t.createSnapshot('<domainsnapshot><name>small</name></domainsnapshot>');
    await t.setMemory(2097152);
    await t.revertToSnapshot('small');
    expect(t.id).toBe(2);
    expect((await t.getInfo()).memory).toBe(1048576);
    expect(await t.getState()).toEqual({ state: 'running', reason: 'from snapshot' });
    await conn.close();
  });
});
