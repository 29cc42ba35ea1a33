import { describe, expect, it } from 'vitest';
import {
  DomainSnapshotDef,
  SNAPSHOT_NAME_MAX_BYTES,
  snapshotNameProblem,
} from '../../../src/conf/snapshot.js';
import { VirError } from '../../../src/errors.js';
import { validate } from '../../../src/xml/validate.js';

function refused(fn: () => unknown): VirError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VirError);
    return err as VirError;
  }
  throw new Error('expected a VirError');
}

// Our own documents, in the element order formatsnapshot documents and
// libvirt writes (name, description, state, parent, creationTime, memory,
// disks, domain, inactiveDomain, cookie, active).
const RUNNING = `<domainsnapshot>
  <name>before-upgrade</name>
  <description>taken with the guest up</description>
  <state>running</state>
  <parent>
    <name>base</name>
  </parent>
  <creationTime>1700000000</creationTime>
  <memory snapshot='internal'/>
  <disks>
    <disk name='vda' snapshot='internal'/>
    <disk name='vdb' snapshot='no'/>
  </disks>
  <domain type='qemu'>
    <name>web</name>
    <uuid>3f2504e0-4f89-11d3-9a0c-0305e82c3301</uuid>
    <memory unit='KiB'>65536</memory>
    <currentMemory unit='KiB'>65536</currentMemory>
    <vcpu placement='static'>1</vcpu>
    <os>
      <type arch='x86_64' machine='pc'>hvm</type>
    </os>
    <devices>
      <emulator>/usr/bin/qemu-system-x86_64</emulator>
    </devices>
  </domain>
  <inactiveDomain type='qemu'>
    <name>web</name>
    <uuid>3f2504e0-4f89-11d3-9a0c-0305e82c3301</uuid>
    <memory unit='KiB'>131072</memory>
    <currentMemory unit='KiB'>131072</currentMemory>
    <vcpu placement='static'>1</vcpu>
    <os>
      <type arch='x86_64' machine='pc'>hvm</type>
    </os>
  </inactiveDomain>
  <cookie>
    <cpu mode='custom' match='exact' check='full'>
      <model fallback='forbid'>qemu64</model>
    </cpu>
  </cookie>
  <active>1</active>
</domainsnapshot>
`;

const EXTERNAL = `<domainsnapshot>
  <name>overlay</name>
  <memory snapshot='external' file='/var/lib/snap/overlay.mem'/>
  <disks>
    <disk name='vda' snapshot='external' type='file'>
      <driver type='qcow2'/>
      <source file='/var/lib/images/web.overlay'/>
    </disk>
    <disk name='sdb' snapshot='manual'/>
  </disks>
</domainsnapshot>
`;

describe('DomainSnapshotDef', () => {
  it('reads every documented part and writes it back unchanged', () => {
    const s = DomainSnapshotDef.fromXML(RUNNING);
    expect(s.name).toBe('before-upgrade');
    expect(s.description).toBe('taken with the guest up');
    expect(s.state).toBe('running');
    expect(s.parentName).toBe('base');
    expect(s.creationTime).toBe(1700000000);
    expect(s.memory).toEqual({ snapshot: 'internal' });
    expect(s.disks?.disk?.map((d) => [d.name, d.snapshot])).toEqual([
      ['vda', 'internal'],
      ['vdb', 'no'],
    ]);
    expect(s.active).toBe(1);
    expect(s.domainDef()?.name).toBe('web');
    expect(s.domainDef()?.uuid).toBe('3f2504e0-4f89-11d3-9a0c-0305e82c3301');
    expect(s.inactiveDomainDef()?.memory?.value).toBe(131072);
    expect(s.toXML()).toBe(RUNNING);
    const again = DomainSnapshotDef.fromXML(s.toXML());
    expect(again.toXML()).toBe(RUNNING);
  });

  it('reads an external memory and disk snapshot with its new image', () => {
    const s = DomainSnapshotDef.fromXML(EXTERNAL);
    expect(s.memory).toEqual({ snapshot: 'external', file: '/var/lib/snap/overlay.mem' });
    const [vda, sdb] = s.disks?.disk ?? [];
    expect(vda).toMatchObject({ name: 'vda', snapshot: 'external', type: 'file' });
    expect(vda?.driver?.type).toBe('qcow2');
    expect(vda?.source?.file).toBe('/var/lib/images/web.overlay');
    expect(sdb?.snapshot).toBe('manual');
    expect(s.toXML()).toBe(EXTERNAL);
  });

  it("applies libvirt's defaults: a memory file alone is external, a disk with a new image is external", () => {
    const s = DomainSnapshotDef.fromXML(
      "<domainsnapshot><memory file='/m'/><disks><disk name='vda'><source file='/o'/></disk></disks></domainsnapshot>",
    );
    expect(s.memory?.snapshot).toBe('external');
    expect(s.disks?.disk?.[0]?.snapshot).toBe('external');
  });

  it('keeps an empty document empty (the driver names the snapshot)', () => {
    const s = DomainSnapshotDef.fromXML('<domainsnapshot/>');
    expect(s.name).toBeUndefined();
    expect(s.toXML()).toBe('<domainsnapshot/>\n');
  });

  it('keeps old snapshots that hold only the domain UUID', () => {
    const xml =
      '<domainsnapshot><name>old</name><domain><uuid>3f2504e0-4f89-11d3-9a0c-0305e82c3301</uuid></domain></domainsnapshot>';
    const s = DomainSnapshotDef.fromXML(xml);
    expect(s.domainDef()).toBeUndefined();
    expect(s.domain).toBeDefined();
  });

  it('keeps XML it does not know (a later libvirt) in its place', () => {
    const xml = `<domainsnapshot>
  <name>a</name>
  <laterThing>
    <disk name='vda'/>
  </laterThing>
</domainsnapshot>
`;
    expect(DomainSnapshotDef.fromXML(xml).toXML()).toBe(xml);
    expect(DomainSnapshotDef.fromXML(xml, { preserveUnknown: false }).toXML()).not.toContain('laterThing');
  });

  it("reads <revertDisks> (libvirt 9.9's overlays of a revert) and writes it after <disks>, as libvirt does", async () => {
    const s = DomainSnapshotDef.fromXML(
      `<domainsnapshot><name>a</name><revertDisks><disk name='vda' snapshot='external' type='file'><driver type='qcow2'/><source file='/i/a.1700000000'/></disk></revertDisks><disks><disk name='vda' snapshot='external' type='file'><source file='/i/a.a'/></disk></disks></domainsnapshot>`,
      { preserveUnknown: false },
    );
    expect(s.revertDisks?.disk?.[0]).toMatchObject({
      name: 'vda',
      snapshot: 'external',
      driver: { type: 'qcow2' },
      source: { file: '/i/a.1700000000' },
    });
    const out = s.toXML();
    expect(out.indexOf('<revertDisks>')).toBeGreaterThan(out.indexOf('</disks>'));
    expect((await validate(out, 'domainsnapshot')).errors).toEqual([]);
  });

  it('accepts any name, as libvirt parses it; snapshotNameProblem says what a file-backed driver refuses', () => {
    expect(DomainSnapshotDef.fromXML('<domainsnapshot><name>a/b</name></domainsnapshot>').name).toBe('a/b');
    expect(snapshotNameProblem('a/b')).toContain("can't contain '/'");
    expect(snapshotNameProblem('.hidden')).toContain("can't start with '.'");
    expect(snapshotNameProblem('x'.repeat(10240))?.length).toBeLessThan(200);
    expect(snapshotNameProblem('x'.repeat(SNAPSHOT_NAME_MAX_BYTES))).toBeUndefined();
    // multi-byte characters count by their UTF-8 size: 126 × 2 bytes is over 251
    expect(snapshotNameProblem('é'.repeat(126))).toBeDefined();
    expect(snapshotNameProblem('é'.repeat(125))).toBeUndefined();
    expect(snapshotNameProblem('before upgrade: 2026-12-02')).toBeUndefined();
  });

  it("refuses libvirt's memory and disk contradictions, naming the field", () => {
    const cases: [string, string][] = [
      ["<memory snapshot='internal' file='/m'/>", '/domainsnapshot/memory/@file'],
      ["<memory snapshot='external'/>", '/domainsnapshot/memory/@file'],
      ["<memory file='relative.mem'/>", '/domainsnapshot/memory/@file'],
      ["<disks><disk name='vda'/><disk name='vda'/></disks>", '/domainsnapshot/disks/disk[2]/@name'],
      [
        "<disks><disk name='vda' snapshot='internal'><source file='/o'/></disk></disks>",
        '/domainsnapshot/disks/disk[1]/source',
      ],
    ];
    for (const [body, field] of cases) {
      const err = refused(() => DomainSnapshotDef.fromXML(`<domainsnapshot>${body}</domainsnapshot>`));
      expect([err.code, err.field], body).toEqual(['XML_ERROR', field]);
    }
    const bad = refused(() =>
      DomainSnapshotDef.fromXML("<domainsnapshot><memory snapshot='manual'/></domainsnapshot>"),
    );
    expect([bad.code, bad.field]).toEqual(['XML_DETAIL', '/domainsnapshot/memory/@snapshot']);
    const state = refused(() =>
      DomainSnapshotDef.fromXML('<domainsnapshot><state>asleep</state></domainsnapshot>'),
    );
    expect([state.code, state.field]).toEqual(['XML_DETAIL', '/domainsnapshot/state']);
    const root = refused(() => DomainSnapshotDef.fromXML('<snapshot/>'));
    expect(root.code).toBe('XML_ERROR');
  });

  it('our schema accepts the documents and refuses what the model refuses', async () => {
    for (const xml of [RUNNING, EXTERNAL, '<domainsnapshot/>']) {
      expect((await validate(xml, 'domainsnapshot')).errors).toEqual([]);
    }
    for (const xml of [
      "<domainsnapshot><memory snapshot='manual'/></domainsnapshot>",
      "<domainsnapshot><memory snapshot='internal' file='/m'/></domainsnapshot>",
      "<domainsnapshot><disks><disk name='vda' snapshot='no'><source file='/o'/></disk></disks></domainsnapshot>",
      '<domainsnapshot><state>asleep</state></domainsnapshot>',
    ]) {
      expect((await validate(xml, 'domainsnapshot')).valid, xml).toBe(false);
    }
  });
});
