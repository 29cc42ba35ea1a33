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
