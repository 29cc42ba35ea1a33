import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainCapabilities } from '../../src/conf/domaincaps.js';
import { validate } from '../../src/xml/validate.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../shared-data.js';

const SMALL = `<domainCapabilities>
  <path>/usr/bin/qemu-system-x86_64</path>
  <domain>kvm</domain>
  <machine>pc-q35-9.2</machine>
  <arch>x86_64</arch>
  <vcpu max='4096'/>
  <iothreads supported='yes'/>
  <cpu>
    <mode name='host-passthrough' supported='yes'>
      <enum name='hostPassthroughMigratable'>
        <value>on</value>
        <value>off</value>
      </enum>
    </mode>
    <mode name='custom' supported='yes'>
      <model usable='no' vendor='Intel' canonical='Broadwell-v1'>Broadwell</model>
      <blockers model='Broadwell'>
        <feature name='hle'/>
        <feature name='rtm'/>
      </blockers>
      <model usable='yes' vendor='unknown'>qemu64</model>
    </mode>
  </cpu>
  <devices>
    <disk supported='yes'>
      <enum name='bus'>
        <value>virtio</value>
        <value>sata</value>
      </enum>
    </disk>
    <hostdev supported='yes'>
      <enum name='capsType'/>
    </hostdev>
  </devices>
  <features>
    <sev supported='no'/>
    <hyperv supported='yes'>
      <enum name='features'>
        <value>relaxed</value>
      </enum>
    </hyperv>
  </features>
</domainCapabilities>
`;

describe('DomainCapabilities', () => {
  it('reads the typed parts and writes the document back byte for byte', () => {
    const dc = DomainCapabilities.fromXML(SMALL);
    expect(dc.machine).toBe('pc-q35-9.2');
    expect(dc.vcpuMax).toBe(4096);
    expect(dc.iothreads).toBe(true);
    const custom = dc.cpuMode('custom');
    expect(custom?.models?.[0]).toEqual({
      name: 'Broadwell',
      usable: 'no',
      vendor: 'Intel',
      canonical: 'Broadwell-v1',
      blockers: ['hle', 'rtm'],
    });
    expect(custom?.models?.[1]?.blockers).toBeUndefined();
    expect(dc.deviceEnum('disk', 'bus')).toEqual(['virtio', 'sata']);
    expect(dc.deviceEnum('hostdev', 'capsType')).toEqual([]);
    expect(dc.deviceEnum('hostdev', 'nope')).toBeUndefined();
    expect(dc.features?.sev?.supported).toBe(false);
    expect(dc.features?.hyperv?.enums?.[0]?.values).toEqual(['relaxed']);
    expect(dc.toXML()).toBe(SMALL);
  });

  it('keeps elements it does not model (sev details) in place', () => {
    const xml = SMALL.replace(
      "<sev supported='no'/>",
      "<sev supported='yes'>\n      <cbitpos>47</cbitpos>\n      <reducedPhysBits>1</reducedPhysBits>\n    </sev>",
    );
    expect(DomainCapabilities.fromXML(xml).toXML()).toBe(xml);
  });

  it('rejects another root element and bad values with their line', () => {
    expect(() => DomainCapabilities.fromXML('<capabilities/>')).toThrow(
      expect.objectContaining({ code: 'XML_ERROR' }),
    );
    expect(() =>
      DomainCapabilities.fromXML(SMALL.replace("<vcpu max='4096'/>", "<vcpu max='lots'/>")),
    ).toThrow(
      expect.objectContaining({ code: 'XML_DETAIL', line: 6, field: '/domainCapabilities/vcpu/@max' }),
    );
    expect(() =>
      DomainCapabilities.fromXML(
        SMALL.replace("<iothreads supported='yes'/>", "<iothreads supported='maybe'/>"),
      ),
    ).toThrow(expect.objectContaining({ code: 'XML_DETAIL', line: 7 }));
  });

  it('validates against our schema, and the schema rejects what libvirt would not write', async () => {
    expect((await validate(SMALL, 'domaincaps')).valid).toBe(true);
    const bad = await validate(
      SMALL.replace("<model usable='yes'", "<model usable='sometimes'"),
      'domaincaps',
    );
    expect(bad.valid).toBe(false);
    expect(bad.errors[0]?.line).toBeGreaterThan(0);
    const noPath = await validate(
      SMALL.replace('<path>/usr/bin/qemu-system-x86_64</path>', ''),
      'domaincaps',
    );
    expect(noPath.valid).toBe(false);
  });
});

describe.skipIf(!HAS_SHARED)(`DomainCapabilities on libvirt's expected documents${SHARED_NOTE}`, () => {
  const dir = join(SHARED_DIR, 'domaincaps');
  const files = HAS_SHARED ? readdirSync(dir).filter((f) => f.endsWith('.xml')) : [];
  it.each(files)('%s round-trips byte for byte and validates', async (f) => {
    const xml = readFileSync(join(dir, f), 'utf8');
    expect(DomainCapabilities.fromXML(xml).toXML()).toBe(xml);
    const v = await validate(xml, 'domaincaps');
    expect(v.errors).toEqual([]);
  });
});
