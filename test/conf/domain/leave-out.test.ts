import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { leaveOutForMigrationOf, leaveOutSecretsOf } from '../../../src/conf/domain/leave-out.js';
import { detachedCopy } from '../../../src/drivers/test/test-definition.js';
import { fixture, HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../../shared-data.js';

// A guest with every secret libvirt leaves out without VIR_DOMAIN_XML_SECURE (a VNC and a SPICE
// password, HTTP cookies on a disk's source and deeper in its backing chain) and every keyboard
// the migratable form leaves out, plus a metadata element that only looks like one of them.
const SECRETS = `<domain type='kvm'>
  <name>leave-out</name>
  <memory>65536</memory>
  <metadata><app:graphics xmlns:app='urn:app' passwd='keep-mine'/></metadata>
  <os><type arch='x86_64' machine='pc-q35-9.0'>hvm</type></os>
  <devices>
    <disk type='network' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source protocol='https' name='/top.qcow2'>
        <host name='example.org' port='443'/>
        <cookies><cookie name='top'>t0p</cookie></cookies>
      </source>
      <backingStore type='network'>
        <format type='raw'/>
        <source protocol='https' name='/base.raw'>
          <host name='example.org' port='443'/>
          <cookies><cookie name='base'>b4se</cookie></cookies>
        </source>
      </backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <input type='keyboard' bus='ps2'/>
    <input type='keyboard' bus='usb'/>
    <input type='mouse' bus='ps2'/>
    <graphics type='vnc' port='-1' autoport='yes' passwd='vnc-s3cret'/>
    <graphics type='spice' autoport='yes' passwd='spice-s3cret'/>
  </devices>
</domain>`;

/** The formatter's leave-outs and the model's, on one definition: the documents they give. */
function bothWays(def: DomainDef): { tree: string; model: string } {
  const tree = def.toXML({ hideSecrets: true, migratable: true, check: false });
  const copy = detachedCopy(def);
  leaveOutSecretsOf(copy);
  leaveOutForMigrationOf(copy);
  return { tree, model: copy.toXML({ check: false }) };
}

describe('leaving out secrets and migration keyboards', () => {
  it('takes out passwords and cookies at any depth of a chain, the PS/2 keyboard, and nothing of the metadata', () => {
    const def = DomainDef.fromXML(SECRETS);
    const { tree, model } = bothWays(def);
    for (const secret of ['vnc-s3cret', 'spice-s3cret', 't0p', 'b4se', '<cookies'])
      expect(tree).not.toContain(secret);
    expect(tree).not.toContain("<input type='keyboard' bus='ps2'/>");
    expect(tree).toContain("<input type='keyboard' bus='usb'");
    expect(tree).toContain("<input type='mouse' bus='ps2'/>");
    expect(tree).toContain('passwd="keep-mine"');
    expect(model).toBe(tree);
    // the model the copy came from still has them all
    const full = def.toXML({ check: false });
    for (const secret of ['vnc-s3cret', 'spice-s3cret', 't0p', 'b4se']) expect(full).toContain(secret);
  });

  const corpus = (): Array<[string, string]> => {
    const files: Array<[string, string]> = readdirSync(fixture('domain'))
      .filter((f) => f.endsWith('.xml'))
      .map((f) => [f, readFileSync(fixture('domain', f), 'utf8')]);
    if (HAS_SHARED) {
      const dir = join(SHARED_DIR, 'domainxml/qemu');
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.x86_64-latest.xml')))
        files.push([f, readFileSync(join(dir, f), 'utf8')]);
    }
    return files;
  };

  it(`gives the same document from the tree and from the model over the fixtures and libvirt's outputs${SHARED_NOTE}`, () => {
    let compared = 0;
    for (const [name, xml] of corpus()) {
      let def: DomainDef;
      try {
        def = DomainDef.fromXML(xml);
      } catch {
        continue; // a document this model refuses has no formatted form to compare
      }
      const { tree, model } = bothWays(def);
      expect(model, name).toBe(tree);
      compared++;
    }
    expect(compared).toBeGreaterThan(HAS_SHARED ? 300 : 3);
  });
});
