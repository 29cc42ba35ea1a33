import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';

const domain = (inner: string, vcpu = "<vcpu placement='static'>4</vcpu>") => `<domain type='qemu'>
  <name>n</name><memory unit='KiB'>4194304</memory>${vcpu}
  <os><type arch='x86_64' machine='pc'>hvm</type></os>${inner}</domain>`;

describe('guest NUMA normalisation (libvirt numa_conf rules)', () => {
  it('indexes cells by id, writes ids and reformats CPU sets', () => {
    const def = DomainDef.fromXML(
      domain(`<cpu><numa>
        <cell id='1' cpus='2-3' memory='1048576'/>
        <cell id='0' cpus='0-2,^2' memory='1048576'/>
      </numa></cpu>`),
    );
    expect(def.cpu?.numa?.cells?.map((c) => [c.id, c.cpus])).toEqual([
      [0, '0-1'],
      [1, '2-3'],
    ]);
  });

  it('fills a distance row with the local distance and mirrors missing distances', () => {
    const def = DomainDef.fromXML(
      domain(`<cpu><numa>
        <cell cpus='0-1' memory='1048576'><distances><sibling id='1' value='21'/></distances></cell>
        <cell cpus='2-3' memory='1048576'/>
      </numa></cpu>`),
    );
    expect(def.cpu?.numa?.cells?.map((c) => c.distances?.siblings)).toEqual([
      [
        { id: 0, value: 10 },
        { id: 1, value: 21 },
      ],
      [
        { id: 0, value: 21 },
        { id: 1, value: 10 },
      ],
    ]);
  });

  it('refuses ids out of range, duplicates, overlapping CPUs and bad distances', () => {
    const cells = (a: string, b: string) =>
      domain(`<cpu><numa><cell ${a} memory='1048576'/><cell ${b} memory='1048576'/></numa></cpu>`);
    expect(() => DomainDef.fromXML(cells("id='0' cpus='0'", "id='2' cpus='1'"))).toThrow(/from 0/);
    expect(() => DomainDef.fromXML(cells("id='0' cpus='0'", "id='0' cpus='1'"))).toThrow(/more than once/);
    expect(() => DomainDef.fromXML(cells("cpus='0-1'", "cpus='1-2'"))).toThrow(/overlapping/);
    expect(() => DomainDef.fromXML(cells("cpus='0'", "cpus='9'"))).toThrow(/exceed/);
    expect(() =>
      DomainDef.fromXML(
        domain(
          `<cpu><numa><cell cpus='0' memory='1'><distances><sibling id='0' value='20'/></distances></cell></numa></cpu>`,
        ),
      ),
    ).toThrow(/distance 20/);
  });

  it('drops the nodeset of an automatic placement and makes unpinned vCPUs automatic', () => {
    const def = DomainDef.fromXML(
      domain(`<numatune><memory mode='preferred' placement='auto' nodeset='0-5,^4'/></numatune>`),
    );
    expect(def.numatune?.memory).toEqual({ mode: 'preferred', placement: 'auto' });
    expect(def.vcpu?.placement).toBe('auto');
  });

  it('gives automatic vCPUs an automatic strict memory placement', () => {
    const def = DomainDef.fromXML(domain('', "<vcpu placement='auto'>2</vcpu>"));
    expect(def.numatune?.memory).toEqual({ mode: 'strict', placement: 'auto' });
  });

  it('refuses a static placement without a nodeset', () => {
    expect(() => DomainDef.fromXML(domain(`<numatune><memory placement='static'/></numatune>`))).toThrow(
      /nodeset/,
    );
  });

  it('drops a memory limit at or above libvirt unlimited', () => {
    const def = DomainDef.fromXML(
      domain(`<memtune><hard_limit unit='KiB'>9007199254740991</hard_limit></memtune>`),
    );
    expect(def.memtune).toBeUndefined();
  });
});

describe("<memory> of a NUMA guest (libvirt's post-parse; values from virsh define on libvirt 9.0)", () => {
  // cells of 256 and 512 MiB and a 128 MiB DIMM: libvirt's QEMU driver made <memory> 917504 KiB
  const numa = (memory: string, current: string) => `<domain type='qemu'><name>n</name>${memory}${current}
    <maxMemory slots='4' unit='MiB'>8192</maxMemory><vcpu>2</vcpu>
    <memoryBacking><hugepages><page size='2' unit='MiB'/></hugepages></memoryBacking>
    <os><type arch='x86_64' machine='pc'>hvm</type></os>
    <cpu><numa><cell id='0' cpus='0' memory='256' unit='MiB'/><cell id='1' cpus='1' memory='512' unit='MiB'/></numa></cpu>
    <devices><memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory></devices>
  </domain>`;

  it("with the ABI update (the QEMU driver's define): the cells' sum plus the memory devices", () => {
    const above = DomainDef.fromXML(
      numa("<memory unit='MiB'>4096</memory>", "<currentMemory unit='MiB'>4096</currentMemory>"),
      { abiUpdate: true },
    );
    expect(above.memory).toEqual({ unit: 'KiB', value: 917504 });
    expect(above.currentMemory).toEqual({ unit: 'KiB', value: 917504 });
    const below = DomainDef.fromXML(
      numa("<memory unit='MiB'>600</memory>", "<currentMemory unit='MiB'>100</currentMemory>"),
      { abiUpdate: true },
    );
    expect(below.memory).toEqual({ unit: 'KiB', value: 917504 });
    expect(below.currentMemory).toEqual({ unit: 'KiB', value: 102400 });
  });

  it('without it (a stored definition, the test driver): <memory> as given, or the sum where none is', () => {
    const def = DomainDef.fromXML(numa("<memory unit='MiB'>4096</memory>", ''));
    expect(def.memory).toEqual({ unit: 'KiB', value: 4194304 });
    expect(DomainDef.fromXML(numa('', '')).memory).toEqual({ unit: 'KiB', value: 917504 });
  });

  it('writes memory device and huge page sizes in KiB', () => {
    const xml = DomainDef.fromXML(numa("<memory unit='MiB'>4096</memory>", '')).toXML();
    expect(xml).toContain("<size unit='KiB'>131072</size>");
    expect(xml).toContain("<page size='2048' unit='KiB'/>");
  });

  it('refuses memory devices larger than <memory> without NUMA cells, naming <memory>', () => {
    const xml = `<domain type='qemu'><name>n</name><memory unit='MiB'>64</memory>
      <maxMemory slots='4' unit='MiB'>8192</maxMemory><os><type arch='x86_64' machine='pc'>hvm</type></os>
      <devices><memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory></devices></domain>`;
    expect(() => DomainDef.fromXML(xml)).toThrow(
      expect.objectContaining({ code: 'XML_ERROR', field: '/domain/memory' }),
    );
  });
});
