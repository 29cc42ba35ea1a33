import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { connect } from '../../../src/connection.js';
import { maxMemKiB, memoryKiB } from '../../../src/drivers/test/test-definition.js';
import { parseTestDomain } from '../../../src/drivers/test/test-domain-xml.js';
import { VirError } from '../../../src/errors.js';
import { parseXml } from '../../../src/xml/parse.js';
import { firstChild, getAttr, textContent } from '../../../src/xml/tree.js';
import { fixture } from '../../shared-data.js';

const read = (name: string) => readFileSync(fixture('test-driver', name), 'utf8');
const newUuid = () => '00000000-0000-4000-8000-000000000000';

describe('test driver domain XML', () => {
  it('gives the default domain exactly as virsh dumpxml does (live and --inactive)', async () => {
    const conn = await connect('test:///default');
    const d = await conn.lookupDomain('test');
    expect(await d.getXML()).toBe(read('default-domain-live.xml'));
    expect(await d.getXML({ inactive: true })).toBe(read('default-domain-inactive.xml'));
    await conn.close();
  });

  it('shows live memory and vCPU changes in the live XML and config changes in the inactive one', async () => {
    const conn = await connect('test:///default');
    const d = await conn.lookupDomain('test');
    await d.setMemory(1048576);
    await d.setVcpus(1);
    const live = parseXml(await d.getXML());
    expect(textContent(firstChild(live, 'currentMemory')!)).toBe('1048576');
    expect(getAttr(firstChild(live, 'vcpu')!, 'current')).toBe('1');
    const inactive = parseXml(await d.getXML({ inactive: true }));
    expect(textContent(firstChild(inactive, 'currentMemory')!)).toBe('2097152');
    expect(getAttr(inactive, 'id')).toBeUndefined();
    await conn.close();
  });

  it('keeps elements it does not model, hides graphics passwords unless secure', async () => {
    const conn = await connect('test:///default');
    const d = await conn.defineDomain(
      "<domain type='test'><name>g</name><memory unit='GiB'>1</memory><os><type>hvm</type></os>" +
        "<metadata><app:x xmlns:app='urn:app'>kept</app:x></metadata>" +
        "<devices><graphics type='vnc' passwd='s3cret'/></devices></domain>",
    );
    const plain = await d.getXML();
    // metadata is written as libxml2 dumps a node (libvirt's formatter): double quotes
    expect(plain).toContain('<app:x xmlns:app="urn:app">kept</app:x>');
    expect(plain).toContain("<memory unit='KiB'>1048576</memory>");
    expect(plain).not.toContain('s3cret');
    expect(await d.getXML({ secure: true })).toContain("passwd='s3cret'");
    // a network disk's HTTP cookies are a secret too (checked with python3-libvirt's test driver)
    const cd = await conn.defineDomain(
      "<domain type='test'><name>ck</name><memory>65536</memory><os><type>hvm</type></os><devices>" +
        "<disk type='network' device='cdrom'><driver name='qemu' type='raw'/><source protocol='https' name='/x.iso'>" +
        "<host name='example.org' port='443'/><cookies><cookie name='session'>t0ken</cookie></cookies></source>" +
        "<target dev='hdc' bus='ide'/><readonly/></disk></devices></domain>",
    );
    expect(await cd.getXML()).not.toContain('cookie');
    expect(await cd.getXML({ secure: true })).toContain("<cookie name='session'>t0ken</cookie>");
    // and the typed read shows what the XML read shows
    expect((await cd.getDefinition()).toXML()).not.toContain('cookie');
    expect((await cd.getDefinition({ secure: true })).toXML()).toContain(
      "<cookie name='session'>t0ken</cookie>",
    );
    expect((await d.getDefinition()).toXML()).not.toContain('s3cret');
    // the generated UUID is stable and written into the document
    expect(plain).toContain(`<uuid>${d.uuid}</uuid>`);
    expect(await d.getXML()).toBe(plain);
    await conn.close();
  });

  it('reads sizes in every libvirt unit, rounding bytes up to KiB as libvirt does', () => {
    const kib = (mem: string) =>
      maxMemKiB(
        parseTestDomain(`<domain type='test'><name>x</name>${mem}<os><type>hvm</type></os></domain>`, {
          newUuid,
        }),
      );
    // values checked against libvirt 9.0's test driver (virDomainGetInfo maxMem)
    expect(kib("<memory unit='b'>1000</memory>")).toBe(1);
    expect(kib("<memory unit='KB'>1000</memory>")).toBe(977);
    expect(kib("<memory unit='G'>1</memory>")).toBe(1048576);
    expect(kib("<memory unit='T'>99999</memory>")).toBe(107373108658176);
    expect(kib('<memory>1024</memory>')).toBe(1024);
  });

  it('caps currentMemory at memory, as libvirt does', () => {
    const cfg = parseTestDomain(
      "<domain type='test'><name>x</name><memory>1024</memory><currentMemory>2048</currentMemory><os><type>hvm</type></os></domain>",
      { newUuid },
    );
    expect(memoryKiB(cfg)).toBe(1024);
  });

  it('accepts UUIDs without dashes and in upper case, and writes them canonical', () => {
    const cfg = parseTestDomain(
      "<domain type='test'><name>x</name><uuid> 6695EB01F6A4830479AA97F2502E193E </uuid><memory>1</memory><os><type>hvm</type></os></domain>",
      { newUuid },
    );
    expect(cfg.uuid).toBe('6695eb01-f6a4-8304-79aa-97f2502e193e');
  });

  it.each([
    ['a document that does not parse', "<domain type='test'>\n<name>x</name>", 'XML_DETAIL'],
    [
      'a size that overflows',
      "<domain type='test'><name>x</name><memory unit='EiB'>99999999</memory><os><type>hvm</type></os></domain>",
      'INVALID_ARG',
    ],
    [
      'a huge but valid size beyond 2^53 KiB',
      "<domain type='test'><name>x</name><memory unit='EiB'>15</memory><os><type>hvm</type></os></domain>",
      'OVERFLOW',
    ],
    ['a missing memory', "<domain type='test'><name>x</name><os><type>hvm</type></os></domain>", 'XML_ERROR'],
    [
      'an unknown lifecycle action',
      "<domain type='test'><name>x</name><memory>1</memory><os><type>hvm</type></os><on_reboot>explode</on_reboot></domain>",
      'CONFIG_UNSUPPORTED',
    ],
    [
      'a zero vcpu count',
      "<domain type='test'><name>x</name><memory>1</memory><vcpu>0</vcpu><os><type>hvm</type></os></domain>",
      'INTERNAL_ERROR',
    ],
    [
      'an exe os type without init',
      "<domain type='test'><name>x</name><memory>1</memory><os><type>exe</type></os></domain>",
      'XML_ERROR',
    ],
  ])('refuses %s with a VirError', (_what, xml, code) => {
    let err: unknown;
    try {
      parseTestDomain(xml, { newUuid });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VirError);
    expect((err as VirError).code).toBe(code);
  });

  it('gives the line of the element at fault', () => {
    try {
      parseTestDomain(
        "<domain type='test'>\n  <name>x</name>\n  <memory>1</memory>\n  <uuid>nope</uuid>\n</domain>",
        {
          newUuid,
        },
      );
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'INTERNAL_ERROR', line: 4, field: '/domain/uuid' });
    }
  });

  it('keeps names with commas, quotes and angle brackets intact through getXML', async () => {
    const conn = await connect('test:///default');
    const name = 'a,b "c" <d> next';
    const esc = name.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const d = await conn.defineDomain(
      `<domain type='test'><name>${esc}</name><memory>1024</memory><os><type>hvm</type></os></domain>`,
    );
    expect(d.name).toBe(name);
    expect(textContent(firstChild(parseXml(await d.getXML()), 'name')!)).toBe(name);
    expect((await conn.lookupDomain({ name })).uuid).toBe(d.uuid);
    await conn.close();
  });

  it('refuses a name with a newline on define, as libvirt 9.0 does (XML_DETAIL)', async () => {
    const conn = await connect('test:///default');
    await expect(
      conn.defineDomain(
        "<domain type='test'><name>a\nb</name><memory>1024</memory><os><type>hvm</type></os></domain>",
      ),
    ).rejects.toMatchObject({ code: 'XML_DETAIL', field: '/domain/name' });
    await conn.close();
  });
});
