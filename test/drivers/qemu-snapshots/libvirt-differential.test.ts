/**
 * libvirt's own snapshot XML, from a private session libvirtd (as nobody,
 * see test/drivers/qemu/libvirt-session.ts) on the same kind of guest:
 * our model reads it and writes it back unchanged, our schema accepts it,
 * and our driver's snapshot of the same guest agrees with it on the
 * elements and values both write (order, state, memory mode, disks). A
 * shut-off guest: libvirt takes internal snapshots with qemu-img there too,
 * so the image's own snapshot list is checked against it as well.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainSnapshotDef } from '../../../src/conf/snapshot.js';
import { parseXml } from '../../../src/xml/parse.js';
import { childElements } from '../../../src/xml/tree.js';
import { validate } from '../../../src/xml/validate.js';
import { CAN_RUN_LIBVIRT_SESSION, withLibvirtSession } from '../qemu/libvirt-session.js';
import { guestXml, host, image, imageTags, SKIP } from './helpers.js';

const WHY = SKIP !== '' ? SKIP : !CAN_RUN_LIBVIRT_SESSION ? 'needs root, virsh, libvirtd and setpriv' : '';

describe.skipIf(WHY !== '')(`snapshot XML against libvirt's${WHY ? ` (skipped: ${WHY})` : ''}`, () => {
  it("libvirt's <domainsnapshot> of a shut-off qcow2 guest: read losslessly, valid, and like ours", async () => {
    const ours = await host();
    const { libvirtXml, libvirtChild, tags } = withLibvirtSession((virsh, home) => {
      const dir = join(home, 'images');
      mkdirSync(dir);
      const disk = join(dir, 'vk-qsnap-lv.qcow2');
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '8M']);
      chownSync(dir, 65534, 65534);
      chownSync(disk, 65534, 65534);
      chmodSync(disk, 0o600);
      const xmlPath = join(home, 'dom.xml');
      execFileSync('sh', ['-c', `cat > ${xmlPath}`], { input: guestXml('vk-qsnap-lv', disk) });
      chmodSync(xmlPath, 0o644);
      virsh(['define', xmlPath]);
      virsh(['snapshot-create-as', 'vk-qsnap-lv', 'lv1', 'taken by libvirt']);
      virsh(['snapshot-create-as', 'vk-qsnap-lv', 'lv2']);
      return {
        libvirtXml: virsh(['snapshot-dumpxml', 'vk-qsnap-lv', 'lv1']),
        libvirtChild: virsh(['snapshot-dumpxml', 'vk-qsnap-lv', 'lv2']),
        tags: imageTags(disk),
      };
    });
    expect(libvirtXml).toContain('<domainsnapshot>');
    expect(tags).toEqual(['lv1', 'lv2']);

    const lv1 = DomainSnapshotDef.fromXML(libvirtXml);
    // virsh prints one blank line after the document
    expect(lv1.toXML().trimEnd()).toBe(libvirtXml.trimEnd());
    expect((await validate(libvirtXml, 'domainsnapshot')).errors).toEqual([]);
    expect([lv1.name, lv1.description, lv1.state, lv1.memory?.snapshot]).toEqual([
      'lv1',
      'taken by libvirt',
      'shutoff',
      'no',
    ]);
    expect(lv1.disks?.disk?.map((d) => [d.name, d.snapshot])).toEqual([['vda', 'internal']]);
    expect(lv1.domainDef()?.name).toBe('vk-qsnap-lv');
    const lv2 = DomainSnapshotDef.fromXML(libvirtChild);
    expect(lv2.parentName).toBe('lv1');

    // the same snapshots by our driver: the same elements in the same order, the same facts
    const disk = image(ours, 'vk-qsnap-lv');
    const dom = await ours.conn.defineDomain(guestXml('vk-qsnap-lv', disk));
    await dom.createSnapshot(
      '<domainsnapshot><name>lv1</name><description>taken by libvirt</description></domainsnapshot>',
    );
    await dom.createSnapshot('<domainsnapshot><name>lv2</name></domainsnapshot>');
    const mine1 = await dom.getSnapshotXML('lv1');
    const mine2 = await dom.getSnapshotXML('lv2');
    const names = (xml: string) => childElements(parseXml(xml)).map((e) => e.name);
    expect(names(mine1)).toEqual(names(libvirtXml));
    expect(names(mine2)).toEqual(names(libvirtChild));
    const m1 = DomainSnapshotDef.fromXML(mine1);
    expect([m1.state, m1.memory?.snapshot, m1.disks?.disk?.map((d) => [d.name, d.snapshot])]).toEqual([
      lv1.state,
      lv1.memory?.snapshot,
      lv1.disks?.disk?.map((d) => [d.name, d.snapshot]),
    ]);
    expect(DomainSnapshotDef.fromXML(mine2).parentName).toBe(lv2.parentName);
    expect(imageTags(disk)).toEqual(tags);
  });
});
