/**
 * Snapshot `redefine` in the QEMU driver on real qemu-img images: snapshot
 * metadata dropped with a `metadataOnly` delete (the images keep the
 * snapshots) and written back from the saved documents, then a revert to
 * each works (a running guest's memory state too); bad documents are refused with typed errors and nothing is
 * written; the disks and the definition are never touched. And the use
 * libvirt names: a guest moved from a real libvirtd (its image and its
 * snapshot documents, the paths rewritten) gets its snapshots back here,
 * and libvirtd itself accepts and refuses the same redefines.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainSnapshotDef } from '../../../src/conf/snapshot.js';
import { CAN_RUN_LIBVIRT_SESSION, withLibvirtSession } from '../qemu/libvirt-session.js';
import { errorOf, guestXml, host, image, imageSectorIs, imageTags, SKIP } from './helpers.js';

const WHY = SKIP !== '' ? SKIP : !CAN_RUN_LIBVIRT_SESSION ? 'needs root, virsh, libvirtd and setpriv' : '';

const write = (file: string, pattern: number) =>
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P ${pattern} 0 4k`, file], { stdio: 'ignore' });

describe.skipIf(SKIP !== '')(`snapshot redefine on real QEMU${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  it('internal snapshots: metadata dropped, redefined from the saved XML, reverted to; bad input writes nothing', async () => {
    const h = await host();
    const base = image(h, 'vk-qredef');
    const dom = await h.conn.defineDomain(guestXml('vk-qredef', base));
    const other = await h.conn.defineDomain(guestXml('vk-qredef-other', image(h, 'vk-qredef-other')));
    write(base, 0x11);
    await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
    write(base, 0x22);
    await dom.createSnapshot(
      '<domainsnapshot><name>s2</name><description>second</description></domainsnapshot>',
    );
    const xml1 = await dom.getSnapshotXML('s1');
    const xml2 = await dom.getSnapshotXML('s2');
    await dom.deleteSnapshot('s1', { children: true, metadataOnly: true });
    expect(await dom.listSnapshots()).toEqual([]);
    // qemu-img still lists both: only the metadata went
    expect(imageTags(base)).toEqual(['s1', 's2']);
    const defXml = await dom.getXML({ inactive: true });
    const snapDir = join(h.state, 'qemu', 'snapshot', 'vk-qredef');
    const files = () => (existsSync(snapDir) ? readdirSync(snapDir).sort() : []);

    const refused: Array<[string, object, string, string | undefined]> = [
      // another domain's definition
      [xml1.replace(dom.uuid, other.uuid), {}, 'INVALID_ARG', '/domainsnapshot/domain/uuid'],
      // s2's parent s1 is not there yet
      [xml2, {}, 'INVALID_ARG', '/domainsnapshot/parent/name'],
      // a name the metadata file cannot carry
      [xml1.replace('<name>s1</name>', '<name>a/b</name>'), {}, 'XML_DETAIL', '/domainsnapshot/name'],
      // its own parent
      [
        xml1.replace('<name>s1</name>', '<name>s1</name><parent><name>s1</name></parent>'),
        {},
        'INVALID_ARG',
        '/domainsnapshot/parent/name',
      ],
      // no state, no creation time: not a document a snapshot gave
      [xml1.replace(/<state>.*<\/state>/, ''), {}, 'XML_ERROR', '/domainsnapshot/state'],
      [
        xml1.replace(/<creationTime>.*<\/creationTime>/, ''),
        {},
        'INTERNAL_ERROR',
        '/domainsnapshot/creationTime',
      ],
      [
        xml1.replace(/<state>.*<\/state>/, '<state>pmsuspended</state>'),
        {},
        'OPERATION_UNSUPPORTED',
        '/domainsnapshot/state',
      ],
      // disk-only asked of a full-system snapshot
      [xml1, { diskOnly: true }, 'INVALID_ARG', 'flags.diskOnly'],
    ];
    for (const [xml, flags, code, field] of refused) {
      const e = await errorOf(dom.createSnapshot(xml, { redefine: true, ...flags }));
      expect([e.code, e.field], xml.slice(0, 200)).toEqual([code, field]);
      expect(await dom.listSnapshots()).toEqual([]);
      expect(files()).toEqual([]);
    }

    expect(await dom.createSnapshot(xml1, { redefine: true })).toBe('s1');
    expect(await dom.createSnapshot(xml2, { redefine: true, current: true })).toBe('s2');
    const listed = await dom.listSnapshots();
    expect(listed.map((s) => [s.name, s.state, s.parent, s.current])).toEqual([
      ['s1', 'shutoff', undefined, false],
      ['s2', 'shutoff', 's1', true],
    ]);
    expect(listed[1]!.description).toBe('second');
    expect(await dom.getSnapshotXML('s1')).toBe(xml1);
    expect(await dom.getSnapshotXML('s2')).toBe(xml2);
    expect(files()).toEqual(['s1.xml', 's2.xml']);

    // against the kept ones: online/offline change, a cycle; each leaves s1 as it was
    const online = xml1.replace(/<state>.*<\/state>/, '<state>running</state>');
    const eo = await errorOf(dom.createSnapshot(online, { redefine: true }));
    expect([eo.code, eo.field]).toEqual(['INVALID_ARG', '/domainsnapshot/state']);
    const cycle = xml1.replace('<name>s1</name>', '<name>s1</name><parent><name>s2</name></parent>');
    const ec = await errorOf(dom.createSnapshot(cycle, { redefine: true }));
    expect([ec.code, ec.field]).toEqual(['INVALID_ARG', '/domainsnapshot/parent/name']);
    expect(await dom.getSnapshotXML('s1')).toBe(xml1);

    // nothing touched the disks or the definition
    expect(imageTags(base)).toEqual(['s1', 's2']);
    expect(imageSectorIs(base, 0x22)).toBe(true);
    expect(await dom.getXML({ inactive: true })).toBe(defXml);

    // the redefined snapshots revert as the taken ones did
    write(base, 0x33);
    await dom.revertToSnapshot('s1');
    expect(imageSectorIs(base, 0x11)).toBe(true);
    expect((await dom.listSnapshots()).find((s) => s.current)?.name).toBe('s1');
    await dom.revertToSnapshot('s2');
    expect(imageSectorIs(base, 0x22)).toBe(true);

    // a redefine of the current snapshot keeps it current; current moves it
    expect(await dom.createSnapshot(xml2.replace('second', 'again'), { redefine: true })).toBe('s2');
    expect((await dom.listSnapshots()).map((s) => [s.name, s.current, s.description])).toEqual([
      ['s1', false, undefined],
      ['s2', true, 'again'],
    ]);
    await dom.createSnapshot(xml1, { redefine: true, current: true });
    expect((await dom.listSnapshots()).find((s) => s.current)?.name).toBe('s1');
  });

  it('a running guest: an online snapshot redefined while it runs, then reverted to from shut off', async () => {
    const h = await host();
    const base = image(h, 'vk-qredef-run');
    const dom = await h.conn.defineDomain(guestXml('vk-qredef-run', base));
    await dom.start();
    await dom.createSnapshot('<domainsnapshot><name>r1</name></domainsnapshot>');
    const xml = await dom.getSnapshotXML('r1');
    await dom.deleteSnapshot('r1', { metadataOnly: true });
    expect(await dom.listSnapshots()).toEqual([]);
    // redefined while the guest runs: metadata only
    expect(await dom.createSnapshot(xml, { redefine: true, current: true })).toBe('r1');
    // the guest ran on, untouched
    expect((await dom.getState()).state).toBe('running');
    expect((await dom.listSnapshots()).map((s) => [s.name, s.state, s.current])).toEqual([
      ['r1', 'running', true],
    ]);
    const off = xml.replace(/<state>.*<\/state>/, '<state>shutoff</state>').replace(/<memory [^>]*\/>/, '');
    // the kept online snapshot cannot become an offline one
    const e = await errorOf(dom.createSnapshot(off, { redefine: true }));
    expect([e.code, e.field]).toEqual(['INVALID_ARG', '/domainsnapshot/state']);
    await dom.destroy();
    // the memory state QEMU kept in the image loads: the guest runs again from it
    await dom.revertToSnapshot('r1');
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'from snapshot' });
  });

  it('an external snapshot: redefined only while its overlay exists', async () => {
    const h = await host();
    const base = image(h, 'vk-qredef-ext');
    const dom = await h.conn.defineDomain(guestXml('vk-qredef-ext', base));
    const overlay = base.replace(/\.qcow2$/, '.e1');
    await dom.createSnapshot(
      `<domainsnapshot><name>e1</name><disks><disk name='vda' snapshot='external'><source file='${overlay}'/></disk></disks></domainsnapshot>`,
      { diskOnly: true },
    );
    const xml = await dom.getSnapshotXML('e1');
    await dom.deleteSnapshot('e1', { metadataOnly: true });
    expect(existsSync(overlay)).toBe(true);
    const defXml = await dom.getXML({ inactive: true });

    const missing = base.replace(/\.qcow2$/, '.gone');
    const e = await errorOf(dom.createSnapshot(xml.replaceAll(overlay, missing), { redefine: true }));
    expect([e.code, e.field]).toEqual(['INVALID_ARG', '/domainsnapshot/disks']);
    expect(await dom.listSnapshots()).toEqual([]);
    expect(existsSync(missing)).toBe(false);

    expect(await dom.createSnapshot(xml, { redefine: true, current: true })).toBe('e1');
    expect((await dom.listSnapshots()).map((s) => [s.name, s.state, s.current])).toEqual([
      ['e1', 'shutoff', true],
    ]);
    expect(await dom.getSnapshotXML('e1')).toBe(xml);
    expect(await dom.getXML({ inactive: true })).toBe(defXml);
  });
});

describe.skipIf(WHY !== '')(`snapshot redefine against libvirt's${WHY ? ` (skipped: ${WHY})` : ''}`, () => {
  it('a guest moved from libvirtd: its snapshot documents redefined here, reverted to; libvirtd agrees on what it takes', async () => {
    const ours = await host();
    const moved = join(ours.roots.path, 'moved.qcow2');
    const lv = withLibvirtSession((virsh, home) => {
      const dir = join(home, 'images');
      mkdirSync(dir);
      const disk = join(dir, 'vk-qredef-lv.qcow2');
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '8M']);
      write(disk, 0x44);
      chownSync(dir, 65534, 65534);
      chownSync(disk, 65534, 65534);
      chmodSync(disk, 0o600);
      const xmlPath = join(home, 'dom.xml');
      execFileSync('sh', ['-c', `cat > ${xmlPath}`], { input: guestXml('vk-qredef-lv', disk) });
      chmodSync(xmlPath, 0o644);
      virsh(['define', xmlPath]);
      virsh(['snapshot-create-as', 'vk-qredef-lv', 'lv1']);
      write(disk, 0x55);
      virsh(['snapshot-create-as', 'vk-qredef-lv', 'lv2']);
      const lv1 = virsh(['snapshot-dumpxml', 'vk-qredef-lv', 'lv1']);
      const lv2 = virsh(['snapshot-dumpxml', 'vk-qredef-lv', 'lv2']);
      // libvirtd's own redefine: the metadata dropped, then put back; a child before its parent and a foreign UUID refused
      virsh(['snapshot-delete', 'vk-qredef-lv', 'lv1', '--children', '--metadata']);
      const redefine = (name: string, xml: string) => {
        const p = join(home, `${name}.xml`);
        execFileSync('sh', ['-c', `cat > ${p}`], { input: xml });
        chmodSync(p, 0o644);
        virsh(['snapshot-create', 'vk-qredef-lv', p, '--redefine']);
        return virsh(['snapshot-list', 'vk-qredef-lv', '--name']).trim().split('\n').filter(Boolean);
      };
      const uuid = DomainSnapshotDef.fromXML(lv1).domainDef()!.uuid!;
      const foreign = uuid.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
      const accepted = {
        childFirst: redefine('c', lv2),
        foreignUuid: redefine('f', lv1.replace(uuid, foreign)),
        lv1: redefine('a', lv1),
        lv2: redefine('b', lv2),
      };
      copyFileSync(disk, moved);
      return { lv1, lv2, disk, uuid, foreign, accepted, tags: imageTags(disk) };
    });
    expect(lv.tags).toEqual(['lv1', 'lv2']);
    expect(lv.accepted).toEqual({ childFirst: [], foreignUuid: [], lv1: ['lv1'], lv2: ['lv1', 'lv2'] });

    // here: the same guest (its UUID) on the moved image; the documents with the new path
    const domXml = DomainSnapshotDef.fromXML(lv.lv1).domainDef()!;
    const dom = await ours.conn.defineDomain(domXml.toXML({ inactive: true }).replaceAll(lv.disk, moved));
    const lv1 = lv.lv1.replaceAll(lv.disk, moved);
    const lv2 = lv.lv2.replaceAll(lv.disk, moved);
    expect((await errorOf(dom.createSnapshot(lv2, { redefine: true }))).code).toBe('INVALID_ARG');
    expect(
      (await errorOf(dom.createSnapshot(lv1.replace(lv.uuid, lv.foreign), { redefine: true }))).code,
    ).toBe('INVALID_ARG');
    expect(await dom.listSnapshots()).toEqual([]);
    await dom.createSnapshot(lv1, { redefine: true });
    await dom.createSnapshot(lv2, { redefine: true, current: true });
    expect((await dom.listSnapshots()).map((s) => [s.name, s.parent, s.current])).toEqual([
      ['lv1', undefined, false],
      ['lv2', 'lv1', true],
    ]);
    await dom.revertToSnapshot('lv1');
    expect(imageSectorIs(moved, 0x44)).toBe(true);
  });
});
