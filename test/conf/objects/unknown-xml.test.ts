/**
 * The object models keep what they do not know (other namespaces,
 * comments, attributes of later libvirt versions) unless asked to format
 * exactly what libvirt would.
 */
import { describe, expect, it } from 'vitest';
import { NetworkDef } from '../../../src/conf/network/network-def.js';
import { NodeDeviceDef } from '../../../src/conf/nodedev/nodedev-def.js';
import { SecretDef } from '../../../src/conf/secret.js';
import { StorageVolDef } from '../../../src/conf/storage/vol-def.js';

describe('unknown XML', () => {
  it('a network keeps a foreign element after the known sibling it followed, and its metadata verbatim', () => {
    const xml = `<network xmlns:x='urn:x'><name>n</name><uuid>81ff0d90-c91e-6742-64da-4a736edb9a9b</uuid>
      <metadata><x:a k="v">t</x:a></metadata><x:extra/><bridge name='br0'/><forward mode='bridge'/></network>`;
    const out = NetworkDef.fromXML(xml).toXML();
    expect(out).toContain('<metadata>\n    <x:a k="v">t</x:a>\n  </metadata>\n  <x:extra/>');
    expect(NetworkDef.fromXML(xml, { preserveUnknown: false }).toXML()).not.toContain('x:extra');
  });

  it('a volume keeps a comment, and drops it for libvirt-exact output', () => {
    const xml = `<volume><!-- made by hand --><name>v</name><capacity>1</capacity></volume>`;
    expect(StorageVolDef.fromXML(xml).toXML()).toContain('<!-- made by hand -->');
    expect(StorageVolDef.fromXML(xml, { preserveUnknown: false }).toXML()).not.toContain('made by hand');
  });

  it('a node device capability keeps an attribute it does not know', () => {
    const xml = `<device><name>d</name><capability type='drm' future='1'><type>render</type></capability></device>`;
    expect(NodeDeviceDef.fromXML(xml).toXML()).toContain("<capability type='drm' future='1'>");
  });

  it('a secret keeps an element of a later libvirt', () => {
    const xml = `<secret><uuid>f52a81b2-424e-490c-823d-6bd4235bc572</uuid><rotation days='30'/></secret>`;
    expect(SecretDef.fromXML(xml).toXML()).toContain("<rotation days='30'/>");
  });
});
