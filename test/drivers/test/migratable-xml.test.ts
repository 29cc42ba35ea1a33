/**
 * `getXML({ migratable })` and `updateCpu` on the test driver, beside
 * libvirt's test driver through python3-libvirt on test:///default: the
 * same documents for a guest with keyboards, displays and controllers
 * (defined, then running; with and without `inactive`), and the same
 * refusal of `updateCpu`, which libvirt's test driver has no host CPU for.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { connect } from '../../../src/connection.js';
import { VirError } from '../../../src/errors.js';
import { PYTHON_LIBVIRT } from '../remote/libvirtd.js';

const GUEST = `<domain type='test'>
  <name>mig</name>
  <uuid>6f1e3f4c-35a1-4c36-9a43-9d7e0c7b51aa</uuid>
  <memory>65536</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <controller type='usb' index='0'/>
    <controller type='pci' index='0' model='pci-root'/>
    <input type='keyboard' bus='ps2'/>
    <input type='mouse' bus='ps2'/>
    <input type='keyboard' bus='usb'/>
    <graphics type='vnc'><listen type='none'/></graphics>
    <graphics type='spice' port='-1' tlsPort='-1' autoport='yes'><listen type='address' address='127.0.0.1'/></graphics>
    <audio id='1' type='none'/>
  </devices>
</domain>`;

/** libvirt's VIR_DOMAIN_XML_* flags of each view. */
const VIEWS: Array<[string, { inactive?: boolean; migratable?: boolean }, number]> = [
  ['live', {}, 0],
  ['migratable', { migratable: true }, 8],
  ['inactive migratable', { inactive: true, migratable: true }, 10],
];

function libvirtViews(): { defined: string[]; running: string[]; updateCpu: string } {
  const script = `
import json, libvirt, sys
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open('test:///default')
d = c.defineXML(sys.stdin.read())
flags = ${JSON.stringify(VIEWS.map((v) => v[2]))}
out = {'defined': [d.XMLDesc(f) for f in flags]}
d.create()
out['running'] = [d.XMLDesc(f) for f in flags]
try:
    d.XMLDesc(4)
    out['updateCpu'] = ''
except libvirt.libvirtError as e:
    out['updateCpu'] = e.get_error_message()
print(json.dumps(out))
`;
  return JSON.parse(
    execFileSync(PYTHON_LIBVIRT as string, ['-c', script], { input: GUEST, encoding: 'utf8' }),
  );
}

describe('test driver: migratable XML', () => {
  it('leaves out the PS/2 keyboard and keeps everything else', async () => {
    const conn = await connect('test:///default');
    const d = await conn.defineDomain(GUEST);
    const plain = await d.getXML();
    const mig = await d.getXML({ migratable: true });
    expect(plain).toContain("<input type='keyboard' bus='ps2'/>");
    expect(mig).not.toMatch(/<input type='keyboard' bus='(ps2|xen)'/);
    expect(mig).toContain("<input type='keyboard' bus='usb'/>");
    expect(mig.replace(/ *<input type='keyboard' bus='(ps2|xen)'\/>\n/g, '')).toBe(mig);
    expect(plain.replace(/ *<input type='keyboard' bus='(ps2|xen)'\/>\n/g, '')).toBe(mig);
    // the typed definition agrees with the document
    const def = await d.getDefinition({ migratable: true });
    expect(def.devices?.inputs?.map((i) => `${i.type}/${i.bus}`)).toEqual(['mouse/ps2', 'keyboard/usb']);
    await conn.close();
  });

  it('refuses a Xen keyboard in a full-virtualisation guest, as libvirt does', async () => {
    const conn = await connect('test:///default');
    const err = await conn
      .defineDomain(GUEST.replace('</devices>', "<input type='keyboard' bus='xen'/></devices>"))
      .catch((e: unknown) => e);
    expect((err as VirError).code).toBe('CONFIG_UNSUPPORTED');
    expect((err as VirError).message).toContain('unsupported input bus xen');
    expect((err as VirError).field).toBe('/domain/devices/input[4]/@bus');
    await conn.close();
  });

  it('refuses updateCpu as libvirt’s test driver does', async () => {
    const conn = await connect('test:///default');
    const d = await conn.lookupDomain('test');
    const err = await d.getXML({ updateCpu: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VirError);
    expect((err as VirError).code).toBe('INVALID_ARG');
    expect((err as VirError).message).toContain('unsupported flags (0x4) in function testDomainGetXMLDesc');
    await conn.close();
  });

  it.skipIf(!PYTHON_LIBVIRT)(
    'gives the documents libvirt’s test driver gives, defined and running (skipped without python3-libvirt)',
    async () => {
      const theirs = libvirtViews();
      const conn = await connect('test:///default');
      const d = await conn.defineDomain(GUEST);
      const views = () => Promise.all(VIEWS.map(([, opts]) => d.getXML(opts)));
      expect(await views()).toEqual(theirs.defined);
      await d.start();
      const running = await views();
      // the running id is each connection's own count
      const id = /<domain type='test' id='(\d+)'>/.exec(theirs.running[0] ?? '')?.[1];
      expect(running.map((x) => x.replace(/ id='\d+'>/, ` id='${id}'>`))).toEqual(theirs.running);
      const err = await d.getXML({ updateCpu: true }).catch((e: unknown) => e);
      expect((err as VirError).message).toContain(theirs.updateCpu.replace(/^.*: /, ''));
      await conn.close();
    },
  );
});
