/**
 * `NetworkPortDef` and `networkport.rng` against libvirt's own network port
 * documents (its virnetworkportxml2xml test data, read from the libvirt
 * source tree where present: each is its own expected output), and the
 * parse-time checks libvirt makes.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NetworkPortDef } from '../../../src/conf/network/port-def.js';
import { VirError } from '../../../src/errors.js';
import { validate } from '../../../src/xml/validate.js';

const DATA = '/work/src-ref/libvirt-11.3.0/tests/virnetworkportxml2xmldata';
const files = existsSync(DATA) ? readdirSync(DATA).filter((f) => f.endsWith('.xml')) : [];

const PORT = (plug = '', extra = '') => `<networkport>
  <uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid>
  <owner>
    <name>vm</name>
    <uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid>
  </owner>
  <mac address='52:54:00:7b:35:93'/>${extra}${plug}
</networkport>
`;

function code(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof VirError) return `${err.code} ${err.field}`;
    throw err;
  }
  return 'OK';
}

describe.skipIf(files.length === 0)("libvirt's network port documents", () => {
  for (const f of files) {
    it(`${f} round-trips byte for byte and is valid`, async () => {
      const xml = readFileSync(join(DATA, f), 'utf8');
      expect(NetworkPortDef.fromXML(xml).toXML()).toBe(xml);
      expect((await validate(xml, 'networkport')).errors).toEqual([]);
    });
  }
});

describe('NetworkPortDef checks', () => {
  it('needs a UUID, an owner and a MAC', () => {
    expect(code(() => NetworkPortDef.fromXML(PORT().replace(/<uuid>5d7[^<]*<\/uuid>/, '')))).toBe(
      'XML_ERROR /networkport/uuid',
    );
    expect(code(() => NetworkPortDef.fromXML(PORT().replace('<name>vm</name>', '')))).toBe(
      'XML_ERROR /networkport/owner/name',
    );
    expect(
      code(() => NetworkPortDef.fromXML(PORT().replace("<mac address='52:54:00:7b:35:93'/>", ''))),
    ).toMatch(/^XML_/);
  });

  it('needs what each plug type uses, and writes only that', () => {
    expect(code(() => NetworkPortDef.fromXML(PORT("<plug type='bridge'/>")))).toBe(
      'XML_ERROR /networkport/plug/@bridge',
    );
    expect(code(() => NetworkPortDef.fromXML(PORT("<plug type='direct'/>")))).toBe(
      'XML_ERROR /networkport/plug/@dev',
    );
    expect(code(() => NetworkPortDef.fromXML(PORT("<plug type='hostdev-pci'/>")))).toBe(
      'XML_ERROR /networkport/plug/address',
    );
    // a direct plug always says its mode (vepa by default); a bridge plug drops a stray dev
    expect(NetworkPortDef.fromXML(PORT("<plug type='direct' dev='eth0'/>")).toXML()).toContain(
      "<plug type='direct' dev='eth0' mode='vepa'/>",
    );
    expect(NetworkPortDef.fromXML(PORT("<plug type='bridge' bridge='br0' dev='x'/>")).toXML()).toContain(
      "<plug type='bridge' bridge='br0'/>",
    );
    expect(NetworkPortDef.fromXML(PORT("<plug type='none'/>")).plugType).toBe('none');
  });

  it('the schema refuses a port without its owner and a plug without its bridge', async () => {
    expect((await validate(PORT().replace(/<owner>[\s\S]*<\/owner>/, ''), 'networkport')).valid).toBe(false);
    expect((await validate(PORT("<plug type='bridge'/>"), 'networkport')).valid).toBe(false);
    expect((await validate(PORT("<plug type='direct' dev='eth0' mode='vepa'/>"), 'networkport')).valid).toBe(
      true,
    );
  });
});
