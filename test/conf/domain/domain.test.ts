import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { knownGap } from '../../../scripts/conformance/known-gaps.js';
import { unknownContent } from '../../../src/conf/binding.js';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { VirError } from '../../../src/errors.js';
import { xmlDiff } from '../../../src/xml/equal.js';
import { parseXml } from '../../../src/xml/parse.js';
import { serializeXml } from '../../../src/xml/serialize.js';
import { childElements, type XmlElement } from '../../../src/xml/tree.js';
import { validate } from '../../../src/xml/validate.js';
import { fixture, HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../../shared-data.js';

const webXml = readFileSync(fixture('domain', 'web-server.xml'), 'utf8');

/** libvirt's test harness fixes randomness and the host arch; we do the same. */
const HARNESS = { defaultArch: 'x86_64', generateMac: () => '52:54:00:00:00:00' } as const;

function catchVir(fn: () => unknown): VirError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VirError);
    return err as VirError;
  }
  throw new Error('expected a VirError');
}

const minimal = (devices = '', extra = '') => `<domain type='kvm'>
  <name>t</name>
  <memory unit='MiB'>512</memory>
  ${extra}
  <os><type>hvm</type></os>
  <devices>${devices}</devices>
</domain>`;

/** Every valid domain document in ../shared, when present. */
function sharedDocs(): string[] {
  if (!HAS_SHARED) return [];
  const dir = join(SHARED_DIR, 'domainxml');
  const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as Array<{
    name: string;
    expect: string;
    input: string;
  }>;
  return (
    cases
      // libvirt drops a whole <cachetune> there (its vCPUs do not exist), and so do we.
      .filter((c) => c.expect === 'success' && c.name !== 'generic/cachetune-extra-tunes')
      .map((c) => readFileSync(join(dir, c.input), 'utf8'))
  );
}

describe('DomainDef parse (own fixture, checked against libvirt on test:///default)', () => {
  const def = DomainDef.fromXML(webXml);

  it('reads typed fields, with sizes normalised to KiB', () => {
    expect(def.type).toBe('kvm');
    expect(def.name).toBe('web-01');
    expect(def.uuid).toBe('6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d');
    // libvirt writes 4 GiB as 4194304 KiB and 2048 MiB as 2097152 KiB (web-server.libvirt.xml).
    expect(def.memory).toMatchObject({ unit: 'KiB', value: 4194304 });
    expect(def.currentMemory).toMatchObject({ unit: 'KiB', value: 2097152 });
    expect(def.vcpu).toEqual({ placement: 'static', current: 2, count: 4 });
    expect(def.os?.type).toMatchObject({ arch: 'x86_64', machine: 'pc-q35-9.2', value: 'hvm' });
    expect(def.features?.acpi).toEqual({});
    expect(def.features?.vmport).toEqual({ state: false });
    expect(def.cpu?.mode).toBe('host-model');
    expect(def.clock?.timers?.map((t) => t.name)).toEqual(['rtc', 'pit', 'hpet']);
    const disk = def.devices?.disks?.[0];
    expect(disk?.source?.file).toBe('/var/lib/libvirt/images/web-01.qcow2');
    expect(disk?.boot?.order).toBe(1);
    expect(disk?.address).toEqual({ type: 'pci', domain: 0, bus: 4, slot: 0, function: 0 });
    expect(def.devices?.disks?.[1]?.address).toEqual({
      type: 'drive',
      controller: 0,
      bus: 0,
      target: 0,
      unit: 0,
    });
    expect(def.devices?.interfaces?.[0]?.mac?.address).toBe('52:54:00:6b:3c:58');
    expect(def.devices?.inputs?.[0]?.address).toEqual({ type: 'usb', bus: 0, port: '1' });
    expect(def.devices?.graphics?.[0]?.listens).toEqual([{ type: 'address', address: '127.0.0.1' }]);
    expect(def.devices?.memballoon?.model).toBe('virtio');
  });

  it('formats what libvirt formats (apart from test-driver additions)', () => {
    const libvirt = parseXml(readFileSync(fixture('domain', 'web-server.libvirt.xml'), 'utf8'));
    // The test driver names the NIC's host side; that is not part of the generic format.
    for (const d of childElements(libvirt, 'devices'))
      for (const n of childElements(d, 'interface'))
        n.children = n.children.filter((c) => !(c.type === 'element' && c.name === 'target'));
    expect(xmlDiff(serializeXml(libvirt), def.toXML({ inactive: true }))).toBeUndefined();
  });

  it('adds the console libvirt implies for the first serial port', () => {
    expect(def.devices?.consoles).toEqual([{ type: 'pty', target: { type: 'serial', port: '0' } }]);
  });

  it('formats a document our schema accepts', async () => {
    const r = await validate(def.toXML(), 'domain');
    expect(r.errors).toEqual([]);
    expect(r.valid).toBe(true);
  });

  it('round-trips its own output unchanged', () => {
    const once = def.toXML();
    expect(DomainDef.fromXML(once).toXML()).toBe(once);
  });
});

describe('inactive format', () => {
  // libvirt 11.3's disk-mirror and disk-active-commit: the inactive output has no <mirror>
  // and no backingStore index, the live one keeps both
  const disk = `<disk type='file' device='disk'>
      <source file='/tmp/top.qcow2'/>
      <backingStore type='file' index='1'>
        <format type='qcow2'/>
        <source file='/tmp/base.qcow2'/>
        <backingStore/>
      </backingStore>
      <mirror type='file' file='/tmp/copy.img' format='qcow2' job='copy'>
        <format type='qcow2'/>
        <source file='/tmp/copy.img'/>
      </mirror>
      <target dev='vda' bus='virtio'/>
    </disk>`;

  it('drops a block job mirror and backing-chain indexes (runtime state) without changing the definition', () => {
    const def = DomainDef.fromXML(minimal(disk));
    const inactive = parseXml(def.toXML({ inactive: true }));
    const d = childElements(childElements(inactive, 'devices')[0]!, 'disk')[0]!;
    expect(childElements(d, 'mirror')).toEqual([]);
    expect(childElements(d, 'backingStore')[0]?.attrs.find((a) => a.name === 'index')).toBeUndefined();
    const live = parseXml(def.toXML());
    const l = childElements(childElements(live, 'devices')[0]!, 'disk')[0]!;
    expect(childElements(l, 'mirror')).toHaveLength(1);
    expect(childElements(l, 'backingStore')[0]?.attrs.find((a) => a.name === 'index')?.value).toBe('1');
  });
});

describe('kitchen-sink fixture (every device kind), checked against libvirt on test:///default', () => {
  it("formats what libvirt formats, keeping the qemu: namespace libvirt's test driver drops", () => {
    const xml = readFileSync(fixture('domain', 'kitchen-sink.xml'), 'utf8');
    const ours = parseXml(DomainDef.fromXML(xml).toXML({ inactive: true }));
    // The QEMU namespace is kept by virtkit; the test driver has no namespace handler for it.
    expect(ours.attrs.find((a) => a.name === 'xmlns:qemu')?.value).toBe(
      'http://libvirt.org/schemas/domain/qemu/1.0',
    );
    expect(childElements(ours, 'qemu:commandline')).toHaveLength(1);
    ours.attrs = ours.attrs.filter((a) => a.name !== 'xmlns:qemu');
    ours.children = ours.children.filter((c) => !(c.type === 'element' && c.name === 'qemu:commandline'));
    // Captured with libvirt 9.0: libvirt 10.1 added `clusters` to the topology and always
    // writes it (1 when not given), so this is what libvirt 11.3 writes for the definition.
    const captured = readFileSync(fixture('domain', 'kitchen-sink.libvirt.xml'), 'utf8');
    const before = "<topology sockets='1' dies='1' cores=";
    expect(captured).toContain(before);
    const libvirt = parseXml(captured.replace(before, "<topology sockets='1' dies='1' clusters='1' cores="));
    for (const d of childElements(libvirt, 'devices'))
      for (const n of childElements(d, 'interface'))
        n.children = n.children.filter((c) => !(c.type === 'element' && c.name === 'target'));
    expect(serializeXml(ours)).toBe(serializeXml(libvirt));
  });

  it('types sysinfo entries', () => {
    const xml = readFileSync(fixture('domain', 'kitchen-sink.xml'), 'utf8');
    expect(DomainDef.fromXML(xml).sysinfo).toEqual([
      {
        type: 'smbios',
        system: {
          entries: [
            { name: 'manufacturer', value: 'Example' },
            { name: 'product', value: 'Virtual Rack' },
          ],
        },
      },
    ]);
  });

  it('types host device sources by their kind', () => {
    const xml = readFileSync(fixture('domain', 'kitchen-sink.xml'), 'utf8');
    const [usb, pci] = DomainDef.fromXML(xml).devices?.hostdevs ?? [];
    expect(usb?.source).toEqual({ vendor: { id: 0x1234 }, product: { id: 0xbeef } });
    expect(pci?.source).toEqual({ address: { domain: 0, bus: 6, slot: 0x12, function: 5 } });
    // libvirt writes managed='no' when it is not given (kitchen-sink.libvirt.xml).
    expect(pci?.managed).toBe(false);
  });

  it('is accepted by our schema', async () => {
    const xml = readFileSync(fixture('domain', 'kitchen-sink.xml'), 'utf8');
    expect((await validate(DomainDef.fromXML(xml).toXML(), 'domain')).errors).toEqual([]);
  });
});

describe('libvirt normalisations', () => {
  it('fills in the defaults libvirt writes out', () => {
    const d = DomainDef.fromXML(minimal(), { generateUuid: () => '00000000-0000-4000-8000-000000000001' });
    expect(d.toXML()).toBe(`<domain type='kvm'>
  <name>t</name>
  <uuid>00000000-0000-4000-8000-000000000001</uuid>
  <memory unit='KiB'>524288</memory>
  <currentMemory unit='KiB'>524288</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
  </devices>
</domain>
`);
  });

  it('writes a UUID given without dashes in canonical form, and fills an empty genid', () => {
    const d = DomainDef.fromXML(minimal('', '<uuid>C7A5FDBDEDAF9455926AD65C16DB1809</uuid><genid/>'));
    expect(d.uuid).toBe('c7a5fdbd-edaf-9455-926a-d65c16db1809');
    expect(d.genid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('generates a UUID when none is given', () => {
    expect(DomainDef.fromXML(minimal()).uuid).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('does not add a boot device when a device has a boot order', () => {
    const d = DomainDef.fromXML(
      minimal(
        "<disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/><boot order='1'/></disk>",
      ),
    );
    expect(d.os?.boot).toBeUndefined();
  });

  it('assigns drive addresses and adds the controllers they need', () => {
    const d = DomainDef.fromXML(
      minimal(
        "<disk type='file' device='disk'><source file='/a'/><target dev='hdc' bus='ide'/></disk><disk type='file' device='disk'><source file='/b'/><target dev='sdh' bus='scsi'/></disk>",
      ),
    );
    // hdc is the third IDE name: controller 0, bus 1, unit 0; sdh is the 8th SCSI name: controller 1, unit 0.
    expect(d.devices?.disks?.[0]?.address).toEqual({
      type: 'drive',
      controller: 0,
      bus: 1,
      target: 0,
      unit: 0,
    });
    expect(d.devices?.disks?.[1]?.address).toEqual({
      type: 'drive',
      controller: 1,
      bus: 0,
      target: 0,
      unit: 0,
    });
    expect(d.devices?.controllers?.map((c) => `${c.type}${c.index}`)).toEqual(['scsi0', 'scsi1', 'ide0']);
  });

  it('generates a MAC for an interface without one, or with the all-zero one', () => {
    const d = DomainDef.fromXML(
      minimal(
        "<interface type='user'/><interface type='user'><mac address='00:00:00:00:00:00'/></interface>",
      ),
    );
    for (const n of d.devices?.interfaces ?? [])
      expect(n.mac?.address).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
  });
});

describe('lossless round trip', () => {
  it('keeps unknown elements and attributes in place, other namespaces included', () => {
    const xml = webXml
      .replace(
        "<vcpu placement='static' current='2'>4</vcpu>",
        "<vcpu placement='static' current='2'>4</vcpu>\n  <x:tag xmlns:x='urn:x' a='1'/>",
      )
      .replace(
        "<target dev='vda' bus='virtio'/>",
        "<target dev='vda' bus='virtio' future='yes'/>\n      <futureChild mode='on'/>",
      )
      .replace('<acpi/>', "<acpi/>\n    <newfeature state='on'/>");
    const out = DomainDef.fromXML(xml).toXML();
    expect(out).toContain(
      "  <vcpu placement='static' current='2'>4</vcpu>\n  <x:tag xmlns:x='urn:x' a='1'/>\n  <os>",
    );
    expect(out).toContain(
      "<target dev='vda' bus='virtio' future='yes'/>\n      <futureChild mode='on'/>\n      <boot order='1'/>",
    );
    expect(out).toContain("<acpi/>\n    <newfeature state='on'/>\n    <apic/>");
  });

  it('drops unknown XML when asked to', () => {
    const xml = webXml.replace('<acpi/>', "<acpi/><newfeature state='on'/>");
    const def = DomainDef.fromXML(xml);
    expect(def.toXML({ preserveUnknown: false })).not.toContain('newfeature');
    expect(DomainDef.fromXML(xml, { preserveUnknown: false }).toXML()).not.toContain('newfeature');
    expect(unknownContent(def.features ?? {})).toBeDefined();
  });

  it('keeps an element injected at a random depth of every document, in place', () => {
    const REBUILT = new Set(['metadata', 'seclabel', 'interconnects']);
    const docs = [webXml, readFileSync(fixture('domain', 'kitchen-sink.xml'), 'utf8'), ...sharedDocs()];
    fc.assert(
      fc.property(fc.nat(), fc.nat(), (pick, seed) => {
        const root = parseXml(docs[pick % docs.length]!);
        const elements: XmlElement[] = [];
        const walk = (e: XmlElement) => {
          // Text-only elements (<name>, <backend>) hold values, not children; so does an
          // empty <genid/> (it asks for a generated ID).
          // Not inside elements the model rebuilds from its own reading: <metadata> (libvirt
          // drops elements in no namespace there), <seclabel> and <interconnects> (known gap:
          // their unknown XML is not kept yet).
          if (REBUILT.has(e.name)) return;
          if (e.children.every((c) => c.type === 'element') && e.name !== 'genid') elements.push(e);
          for (const c of e.children) if (c.type === 'element') walk(c);
        };
        walk(root);
        const host = elements[seed % elements.length]!;
        // An element libvirt's rules drop (a <protocol> on a non-TCP chardev) takes what is in it along
        const count = (e: XmlElement): number =>
          (e.name === host.name ? 1 : 0) +
          e.children.reduce((n, c) => n + (c.type === 'element' ? count(c) : 0), 0);
        const plain = parseXml(DomainDef.fromXML(serializeXml(root), HARNESS).toXML());
        if (count(plain) < count(root)) return;
        const at = seed % (host.children.length + 1);
        const before = at > 0 ? host.children[at - 1] : undefined;
        host.children.splice(at, 0, { type: 'element', name: 'injected', attrs: [], children: [] });
        const out = parseXml(DomainDef.fromXML(serializeXml(root), HARNESS).toXML());
        const found: Array<{ parent: XmlElement; prev: string | undefined }> = [];
        const find = (e: XmlElement) => {
          const kids = e.children.filter((c): c is XmlElement => c.type === 'element');
          for (const [i, c] of kids.entries()) {
            if (c.name === 'injected') found.push({ parent: e, prev: kids[i - 1]?.name });
            find(c);
          }
        };
        find(out);
        expect(found).toHaveLength(1);
        expect(found[0]?.parent.name).toBe(host.name);
        // Right after the known sibling it followed (or first, when it led). A sibling libvirt's
        // rules drop (an empty chardev <source>) is not there to follow: then only the parent
        // is promised.
        // libvirt writes a backing store's children (format, source, the next layer) and a disk
        // source's (auth, encryption, reservations) in its own order: there only the parent is
        // promised.
        if (before?.type === 'element' && host.name !== 'backingStore' && host.name !== 'source') {
          const name = before.name;
          const kept = found[0]!.parent.children.some((c) => c.type === 'element' && c.name === name);
          if (kept) expect(found[0]?.prev).toBe(name);
        }
      }),
      // a fixed seed: CI checks the same 1,000 placements every run (a new seed locally: FC_SEED)
      { numRuns: 1000, seed: Number(process.env.FC_SEED ?? 20261202) },
    );
  });

  it('fromXML(toXML(d)) equals d for generated definitions', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9_-]{0,15}$/);
    const disk = fc.record({
      file: fc.stringMatching(/^\/[a-z]{1,8}\.img$/),
      bus: fc.constantFrom('virtio', 'sata', 'scsi'),
    });
    fc.assert(
      fc.property(
        name,
        fc.integer({ min: 1, max: 1 << 20 }),
        fc.integer({ min: 1, max: 64 }),
        fc.array(disk, { maxLength: 6 }),
        (n, mib, vcpus, disks) => {
          const def = new DomainDef({
            type: 'kvm',
            name: n,
            memory: { value: mib, unit: 'MiB' },
            vcpu: { count: vcpus },
            os: { type: { value: 'hvm' } },
            devices: {
              disks: disks.map((d, i) => ({
                type: 'file' as const,
                device: 'disk' as const,
                source: { file: d.file },
                target: {
                  dev: `${d.bus === 'virtio' ? 'vd' : 'sd'}${String.fromCharCode(97 + i)}`,
                  bus: d.bus as 'virtio',
                },
              })),
            },
          });
          // An empty list and no list are the same document.
          if (disks.length === 0) delete def.devices;
          def.normalize({ generateUuid: () => '11111111-2222-4333-8444-555555555555' });
          const back = DomainDef.fromXML(def.toXML());
          expect({ ...back }).toEqual({ ...def });
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('builder', () => {
  it('creates a domain from code and edits it', async () => {
    const def = new DomainDef({
      type: 'kvm',
      name: 'built',
      uuid: '0a0b0c0d-0e0f-4011-8213-141516171819',
      memory: { value: 1, unit: 'GiB' },
      vcpu: { count: 2 },
      os: { type: { arch: 'x86_64', machine: 'q35', value: 'hvm' } },
      devices: {
        interfaces: [{ type: 'network', source: { network: 'default' }, model: { type: 'virtio' } }],
      },
    }).normalize({ generateMac: () => '52:54:00:aa:bb:cc' });
    def.devices ??= {};
    def.devices.disks ??= [];
    def.devices.disks.push({
      type: 'file',
      device: 'disk',
      source: { file: '/srv/data.qcow2' },
      target: { dev: 'vda', bus: 'virtio' },
    });
    def.memory = { value: 2097152, unit: 'KiB' };
    def.check();
    const xml = def.toXML();
    expect(xml).toContain("<memory unit='KiB'>2097152</memory>");
    expect(xml).toContain("<mac address='52:54:00:aa:bb:cc'/>");
    expect(xml).toContain("<source file='/srv/data.qcow2'/>");
    expect((await validate(xml, 'domain')).valid).toBe(true);
  });

  it('checks before it formats', () => {
    const def = DomainDef.fromXML(webXml);
    def.name = 'a/b';
    expect(catchVir(() => def.toXML()).field).toBe('/domain/name');
    expect(def.toXML({ check: false })).toContain('<name>a/b</name>');
  });

  it('refuses an edit that breaks a rule', () => {
    const def = DomainDef.fromXML(webXml);
    def.devices?.disks?.push({
      type: 'file',
      device: 'disk',
      source: { file: '/x' },
      target: { dev: 'vda', bus: 'virtio' },
    });
    const err = catchVir(() => def.check());
    expect(err.code).toBe('XML_DETAIL');
    expect(err.field).toBe('/domain/devices/disk[3]/target/@dev');
  });
});

describe('bad input', () => {
  it('mutated documents give a definition whose output round-trips, or a VirError; never anything else', () => {
    const docs = [webXml, readFileSync(fixture('domain', 'kitchen-sink.xml'), 'utf8')];
    const values = [
      '',
      '-1',
      '0',
      '99999999999999999999',
      'abc',
      '0x',
      'yes',
      '/',
      '\n',
      ' 5 ',
      'tcp',
      'unix',
      'pci',
    ];
    fc.assert(
      fc.property(
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { minLength: 1, maxLength: 4 }),
        (pick, edits) => {
          const root = parseXml(docs[pick % docs.length]!);
          const els: XmlElement[] = [];
          const walk = (e: XmlElement) => {
            els.push(e);
            for (const c of e.children) if (c.type === 'element') walk(c);
          };
          walk(root);
          for (const [which, what, value] of edits) {
            const e = els[which % els.length]!;
            const v = values[value % values.length]!;
            if (e.attrs.length > 0 && what % 2 === 0) e.attrs[what % e.attrs.length]!.value = v;
            else if (e.children.length > 0 && e.children.every((c) => c.type === 'text'))
              e.children = [{ type: 'text', value: v }];
            else e.attrs.push({ name: ['type', 'mode', 'unit', 'port', 'index'][what % 5]!, value: v });
          }
          let def: DomainDef;
          try {
            def = DomainDef.fromXML(serializeXml(root));
          } catch (err) {
            expect(err).toBeInstanceOf(VirError);
            return;
          }
          const out = def.toXML();
          expect(DomainDef.fromXML(out).toXML()).toBe(out);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('malformed XML: XML_ERROR with its line', () => {
    const err = catchVir(() => DomainDef.fromXML("<domain type='kvm'>\n  <name>x</nam>\n</domain>"));
    expect(err.code).toBe('XML_ERROR');
    expect(err.line).toBe(2);
  });

  it('wrong root', () => {
    expect(catchVir(() => DomainDef.fromXML('<network/>')).code).toBe('XML_ERROR');
  });

  it('unknown domain type, with its line', () => {
    const err = catchVir(() => DomainDef.fromXML("<domain type='bogus'>\n<name>x</name></domain>"));
    expect(err.code).toBe('XML_DETAIL');
    expect(err.field).toBe('/domain/@type');
    expect(err.line).toBe(1);
  });

  it('duplicate uuid or name in one document', () => {
    const twice = minimal(
      '',
      '<uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\n<uuid>c7a5fdbd-edaf-9455-926a-d65c16db1800</uuid>',
    );
    const err = catchVir(() => DomainDef.fromXML(twice));
    expect(err.field).toBe('/domain/uuid');
    expect(err.line).toBe(5);
    expect(catchVir(() => DomainDef.fromXML(minimal('', '<name>again</name>'))).field).toBe('/domain/name');
  });

  it('bad uuid', () => {
    expect(catchVir(() => DomainDef.fromXML(minimal('', '<uuid>not-a-uuid</uuid>'))).code).toBe('XML_DETAIL');
  });

  it('out-of-range numbers', () => {
    expect(catchVir(() => DomainDef.fromXML(minimal('', '<vcpu>0</vcpu>'))).field).toBe(
      '/domain/vcpu/text()',
    );
    expect(catchVir(() => DomainDef.fromXML(minimal('', "<vcpu current='5'>4</vcpu>"))).field).toBe(
      '/domain/vcpu/@current',
    );
    expect(catchVir(() => DomainDef.fromXML(minimal().replace('512', '99999999999999999999'))).code).toBe(
      'XML_DETAIL',
    );
  });

  it('unknown memory unit', () => {
    expect(catchVir(() => DomainDef.fromXML(minimal().replace("unit='MiB'", "unit='furlongs'"))).field).toBe(
      '/domain/memory/@unit',
    );
  });

  it('invalid MAC, multicast MAC', () => {
    const bad = (mac: string) =>
      catchVir(() =>
        DomainDef.fromXML(minimal(`<interface type='user'><mac address='${mac}'/></interface>`)),
      );
    expect(bad('52:54:00:zz:00:01').field).toBe('/domain/devices/interface[1]/mac/@address');
    expect(bad('01:00:5e:00:00:01').message).toContain('multicast');
  });

  it('PCI address beyond limits', () => {
    const err = catchVir(() =>
      DomainDef.fromXML(
        minimal(
          "<video><model type='vga'/>\n<address type='pci' domain='0x0000' bus='0x00' slot='0x20' function='0x0'/></video>",
        ),
      ),
    );
    expect(err.field).toBe('/domain/devices/video[1]/address/@slot');
    expect(err.line).toBe(7);
    expect(
      catchVir(() =>
        DomainDef.fromXML(minimal("<video><model type='vga'/><address type='pci' function='0x8'/></video>")),
      ).field,
    ).toBe('/domain/devices/video[1]/address/@function');
  });

  it('two devices on one PCI address', () => {
    const addr = "<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>";
    const err = catchVir(() =>
      DomainDef.fromXML(
        minimal(`<video><model type='vga'/>${addr}</video><memballoon model='virtio'>${addr}</memballoon>`),
      ),
    );
    expect(err.message).toContain('0:0:3.0');
  });

  it('10,000 disks: parsed when valid, and a duplicate target is named', () => {
    const names: string[] = [];
    for (let i = 0; names.length < 10_000; i++) {
      let s = '';
      let n = i;
      do {
        s = String.fromCharCode(97 + (n % 26)) + s;
        n = Math.floor(n / 26) - 1;
      } while (n >= 0);
      names.push(`vd${s}`);
    }
    const disks = names.map(
      (t) =>
        `<disk type='file' device='disk'><source file='/d/${t}'/><target dev='${t}' bus='virtio'/></disk>`,
    );
    expect(DomainDef.fromXML(minimal(disks.join(''))).devices?.disks).toHaveLength(10_000);
    disks[9_999] = disks[0]!;
    const err = catchVir(() => DomainDef.fromXML(minimal(disks.join(''))));
    expect(err.field).toBe('/domain/devices/disk[10000]/target/@dev');
  });

  it('attribute values with newlines survive escaped; a name with one is refused', () => {
    const d = DomainDef.fromXML(
      minimal(
        "<disk type='file' device='disk'><source file='/a&#10;b'/><target dev='vda' bus='virtio'/></disk>",
      ),
    );
    expect(d.devices?.disks?.[0]?.source?.file).toBe('/a\nb');
    expect(d.toXML()).toContain("<source file='/a&#xA;b'/>");
    expect(
      catchVir(() => DomainDef.fromXML(minimal().replace('<name>t</name>', '<name>a&#10;b</name>'))).field,
    ).toBe('/domain/name');
  });

  it('boot order both in <os> and on a device', () => {
    const xml = minimal(
      "<disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/><boot order='1'/></disk>",
    ).replace('<type>hvm</type>', "<type>hvm</type><boot dev='hd'/>");
    expect(catchVir(() => DomainDef.fromXML(xml)).code).toBe('CONFIG_UNSUPPORTED');
  });

  it('refuses a network listen without its network', () => {
    const xml = minimal("<graphics type='vnc'><listen type='network'/></graphics>");
    expect(catchVir(() => DomainDef.fromXML(xml)).field).toBe('/domain/devices/graphics[1]/listen[1]');
  });

  it('a title with a newline', () => {
    expect(catchVir(() => DomainDef.fromXML(minimal('', '<title>a&#10;b</title>'))).field).toBe(
      '/domain/title',
    );
  });

  it('rules checked on the model still name the line at fault', () => {
    const xml = minimal(
      "\n<channel type='tcp'>\n<source mode='bind' host='localhost'/>\n<target type='virtio' name='a'/></channel>",
    );
    const err = catchVir(() => DomainDef.fromXML(xml));
    expect(err.field).toBe('/domain/devices/channel[1]');
    expect(err.line).toBe(7);
  });

  it('colliding cache allocations', () => {
    const tune =
      "<cputune><cachetune vcpus='0'><cache id='0' level='3' type='both' size='1' unit='MiB'/><cache id='0' level='3' type='code' size='1' unit='MiB'/></cachetune></cputune>";
    expect(catchVir(() => DomainDef.fromXML(minimal('', tune))).field).toBe(
      '/domain/cputune/cachetune[1]/cache',
    );
  });
});

describe.skipIf(!HAS_SHARED)(`libvirt's domainxml/generic cases${SHARED_NOTE}`, () => {
  const dir = join(SHARED_DIR, 'domainxml');
  const cases = HAS_SHARED
    ? (JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as Array<{
        name: string;
        family: string;
        expect: string;
        input: string;
        output?: string;
        live?: boolean;
      }>)
    : [];
  for (const c of cases.filter((x) => x.family === 'generic')) {
    it(c.name, () => {
      const input = readFileSync(join(dir, c.input), 'utf8');
      if (c.expect === 'parse-error') {
        expect(catchVir(() => DomainDef.fromXML(input, HARNESS)).line).toBeGreaterThan(0);
        return;
      }
      const expected = readFileSync(join(dir, c.output ?? c.input), 'utf8');
      expect(DomainDef.fromXML(input, HARNESS).toXML({ inactive: c.live === false })).toBe(expected);
    });
  }

  // The qemu cases' own checks (output to itself, schema) run in the domainxml/qemu family
  // (test/drivers/qemu-command-line/shared-cases.test.ts); here the model alone, without
  // the QEMU driver's defaults, for every case not on the shared known-gaps list.
  const qemuCases = cases.filter(
    (x) => x.family === 'qemu' && x.output && !knownGap('domainxml/qemu', x.name),
  );
  for (const c of qemuCases) {
    it(`${c.name}: libvirt's QEMU-driver output formats back to itself, and our schema accepts it`, async () => {
      const xml = readFileSync(join(dir, c.output!), 'utf8');
      expect(DomainDef.fromXML(xml, HARNESS).toXML({ inactive: true })).toBe(xml);
      for (const f of [c.input, c.output!]) {
        expect((await validate(readFileSync(join(dir, f), 'utf8'), 'domain')).errors, f).toEqual([]);
      }
    });
  }

  it('our schema accepts every valid generic domain document and refuses the structural errors', async () => {
    for (const c of cases.filter((x) => x.family === 'generic')) {
      const files = c.expect === 'success' ? [c.input, ...(c.output ? [c.output] : [])] : [c.input];
      for (const f of files) {
        const r = await validate(readFileSync(join(dir, f), 'utf8'), 'domain');
        if (c.expect === 'success') expect(r.errors, f).toEqual([]);
      }
    }
    for (const name of ['chardev-tcp-missing-service', 'chardev-unix-rng-missing-path']) {
      const r = await validate(readFileSync(join(dir, 'generic', `${name}.xml`), 'utf8'), 'domain');
      expect(r.valid).toBe(false);
      expect(r.errors[0]?.line).toBeGreaterThan(0);
    }
  });
});
