import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Capabilities } from '../../src/conf/capabilities.js';
import { connect } from '../../src/connection.js';
import { VirError } from '../../src/errors.js';
import { xmlDiff } from '../../src/xml/equal.js';
import { validate } from '../../src/xml/validate.js';
import { fixture, HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../shared-data.js';

const virshCaps = readFileSync(fixture('virsh/test-default-capabilities.xml'), 'utf8');

describe('Capabilities', () => {
  it('reads the host and guests of the capabilities virsh printed for test:///default', () => {
    const caps = Capabilities.fromXML(virshCaps);
    expect(caps.host.cpu.arch).toBe('i686');
    expect(caps.host.cpu.flags).toEqual(['pae', 'nonpae']);
    expect(caps.host.cpu.pages?.map((p) => p.size)).toEqual([4, 8, 2048, 1048576]);
    expect(caps.host.iommu).toBe(false);
    const cells = caps.host.topology?.cells;
    expect(cells?.num).toBe(2);
    expect(cells?.cells?.[1]?.memory).toEqual({ unit: 'KiB', value: 4194304n });
    expect(cells?.cells?.[1]?.cpus?.cpus?.[7]).toEqual({
      id: 15,
      socketId: 1,
      dieId: 0,
      coreId: 7,
      siblings: '15',
    });
    expect(caps.host.secModels).toEqual([{ model: 'testSecurity', doi: '' }]);
    expect(caps.guests?.map((g) => `${g.osType}/${g.arch.name}/${g.arch.wordsize}`)).toEqual([
      'hvm/i686/32',
      'xen/i686/32',
    ]);
    expect(caps.findGuests({ osType: 'xen', domainType: 'test' })).toHaveLength(1);
  });

  it('formats byte for byte as libvirt does (blank lines between sections)', () => {
    expect(Capabilities.fromXML(virshCaps).toXML()).toBe(virshCaps);
  });

  it("formats the capabilities libvirt's QEMU driver printed on a real host byte for byte", () => {
    // virsh ends its output with an extra blank line; libvirt's document ends at </capabilities>
    const printed = `${readFileSync(fixture('capabilities/qemu-session-x86_64.xml'), 'utf8').trimEnd()}\n`;
    // That was libvirt 9.0; since 10.1 libvirt writes `clusters` in every topology (1 when the
    // host reports none), as we do.
    const before = "<topology sockets='1' dies='1' cores=";
    expect(printed).toContain(before);
    const qemuCaps = printed.replace(before, "<topology sockets='1' dies='1' clusters='1' cores=");
    const caps = Capabilities.fromXML(printed);
    expect(caps.host.cpu.maxPhysAddr).toEqual({ mode: 'emulate', bits: 48 });
    expect(caps.host.cache?.banks?.[0]).toMatchObject({
      level: 3,
      type: 'both',
      size: 32,
      unit: 'MiB',
      cpus: '0-1',
    });
    expect(caps.toXML()).toBe(qemuCaps);
  });

  it('is what our test:///default driver reports', async () => {
    const conn = await connect('test:///default');
    expect((await conn.getCapabilities()).toXML()).toBe(virshCaps);
    await conn.close();
  });

  it('reads guest machines, domain types and feature toggles', () => {
    const caps = Capabilities.fromXML(`<capabilities><host><cpu><arch>x86_64</arch></cpu></host>
      <guest><os_type>hvm</os_type>
        <arch name='x86_64'><wordsize>64</wordsize><emulator>/usr/bin/qemu-system-x86_64</emulator>
          <machine maxCpus='255'>pc-i440fx-7.2</machine>
          <machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>
          <machine maxCpus='288' deprecated='yes'>pc-q35-2.4</machine>
          <domain type='qemu'/>
          <domain type='kvm'><emulator>/usr/bin/kvm</emulator><machine>q35</machine></domain>
        </arch>
        <features><acpi default='on' toggle='yes'/><apic default='on' toggle='no'/><cpuselection/></features>
      </guest></capabilities>`);
    const arch = caps.guests?.[0]?.arch;
    expect(arch?.machines?.[1]).toEqual({ name: 'pc', canonical: 'pc-i440fx-7.2', maxCpus: 255 });
    expect(arch?.machines?.[2]?.deprecated).toBe(true);
    expect(arch?.domains?.[1]).toEqual({
      type: 'kvm',
      emulator: '/usr/bin/kvm',
      machines: [{ name: 'q35' }],
    });
    expect(caps.guests?.[0]?.features).toEqual([
      { name: 'acpi', default: true, toggle: true },
      { name: 'apic', default: true, toggle: false },
      { name: 'cpuselection' },
    ]);
  });

  it('keeps elements and attributes it does not model, in place', () => {
    const xml = `<capabilities><host><cpu><arch>x86_64</arch><future a='1'/></cpu><x:ext xmlns:x='urn:x' v='2'/></host></capabilities>`;
    const out = Capabilities.fromXML(xml).toXML();
    expect(xmlDiff(xml, out)).toBeUndefined();
  });

  it.each([
    ['wrong root', '<domain/>', 'XML_ERROR', 1],
    ['missing host', '<capabilities/>', 'XML_DETAIL', 1],
    [
      'negative wordsize',
      "<capabilities><host><cpu/></host><guest><os_type>hvm</os_type><arch name='x'>\n<wordsize>-1</wordsize></arch></guest></capabilities>",
      'XML_DETAIL',
      2,
    ],
    [
      'overflowing cpu id',
      "<capabilities><host><cpu/><topology><cells num='1'><cell id='0'><cpus num='1'>\n<cpu id='99999999999999999999'/></cpus></cell></cells></topology></host></capabilities>",
      'XML_DETAIL',
      2,
    ],
    [
      'cpus num disagreeing with its list',
      "<capabilities><host><cpu/><topology><cells num='1'><cell id='0'>\n<cpus num='2'><cpu id='0'/></cpus></cell></cells></topology></host></capabilities>",
      'XML_DETAIL',
      2,
    ],
    [
      'unknown yes/no',
      "<capabilities><host><cpu/>\n<iommu support='maybe'/></host></capabilities>",
      'XML_DETAIL',
      2,
    ],
  ])('rejects %s', (_what, xml, code, line) => {
    try {
      Capabilities.fromXML(xml);
      expect.unreachable('should have thrown');
    } catch (err) {
      expect(err).toBeInstanceOf(VirError);
      expect((err as VirError).code).toBe(code);
      expect((err as VirError).line).toBe(line);
    }
  });
});

describe('Capabilities host resources', () => {
  // Written by hand after libvirt's formatter: a memory-side cache sits between distances and CPUs,
  // interconnects follow the cells, and an empty <migration_features> still opens and closes.
  const doc = `<capabilities>

  <host>
    <cpu>
      <arch>x86_64</arch>
    </cpu>
    <power_management/>
    <iommu support='no'/>
    <migration_features>
    </migration_features>
    <topology>
      <cells num='1'>
        <cell id='0'>
          <memory unit='KiB'>1024</memory>
          <cache level='1' associativity='full' policy='writeback'>
            <size value='64' unit='KiB'/>
            <line value='64' unit='B'/>
          </cache>
          <cpus num='0'/>
        </cell>
      </cells>
      <interconnects>
        <latency initiator='0' target='0' type='access' value='9'/>
        <bandwidth initiator='0' target='0' cache='1' type='read' value='2048' unit='KiB'/>
      </interconnects>
    </topology>
  </host>

</capabilities>
`;

  it('reads memory-side caches and interconnects, and writes them back byte for byte', async () => {
    const caps = Capabilities.fromXML(doc);
    expect(caps.host.migration).toEqual({});
    expect(caps.host.topology?.cells?.cells?.[0]?.caches).toEqual([
      {
        level: 1,
        associativity: 'full',
        policy: 'writeback',
        size: { value: 64, unit: 'KiB' },
        line: { value: 64, unit: 'B' },
      },
    ]);
    expect(caps.host.topology?.interconnects).toEqual({
      latencies: [{ initiator: 0, target: 0, type: 'access', value: 9 }],
      bandwidths: [{ initiator: 0, target: 0, cache: 1, type: 'read', value: 2048, unit: 'KiB' }],
    });
    expect(caps.toXML()).toBe(doc);
    expect((await validate(doc, 'capability')).errors).toEqual([]);
  });

  it('refuses an unknown cache associativity', () => {
    expect(() => Capabilities.fromXML(doc.replace("associativity='full'", "associativity='some'"))).toThrow(
      VirError,
    );
  });
});

describe.skipIf(!HAS_SHARED)(`Capabilities round trip of libvirt's data${SHARED_NOTE}`, () => {
  it('caps.x86_64.xml formats back byte for byte', () => {
    const xml = readFileSync(join(SHARED_DIR, 'capabilities/caps.x86_64.xml'), 'utf8');
    expect(Capabilities.fromXML(xml).toXML()).toBe(xml);
  });

  it('every host capabilities document of vircaps2xmltest formats back byte for byte and is valid', async () => {
    const dir = join(SHARED_DIR, 'hostcaps');
    const files = readdirSync(dir).filter((f) => f.endsWith('.xml'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const xml = readFileSync(join(dir, f), 'utf8');
      expect(Capabilities.fromXML(xml).toXML(), f).toBe(xml);
      expect((await validate(xml, 'capability')).errors, f).toEqual([]);
    }
  });
});
