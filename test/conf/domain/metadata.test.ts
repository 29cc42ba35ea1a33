/**
 * `<metadata>` as libvirt keeps it (virXMLNodeSanitizeNamespaces, then
 * libxml2's node dump): elements in no namespace dropped, the first of each
 * namespace kept, double-quoted attributes. Expected text is libvirt 11.3's
 * output for its metadata-duplicate case.
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';

const xml = (metadata: string) => `<domain type='qemu'><name>m</name><memory>65536</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os><metadata>${metadata}</metadata></domain>`;

describe('<metadata>', () => {
  it('keeps one element per namespace, drops those in none, and writes them as libxml2 does', () => {
    const out = DomainDef.fromXML(
      xml(`
      <herp2erp xmlns:foobar="http://foo.bar3/"/>
      <app1:foo xmlns:app1="http://foo.org/">fooish</app1:foo>
      <app3:foo xmlns:app3="http://foo.org/">other</app3:foo>
   <app2:bar xmlns:app2="http://bar.com/" maman="baz">barish</app2:bar>
      <app1:foo xmlns:app1="http://foo.org/">fooish</app1:foo>`),
    ).toXML();
    expect(out).toContain(
      '  <metadata>\n    <app1:foo xmlns:app1="http://foo.org/">fooish</app1:foo>\n' +
        '    <app2:bar xmlns:app2="http://bar.com/" maman="baz">barish</app2:bar>\n  </metadata>\n',
    );
  });

  it('escapes as libxml2: a double quote in an attribute, but not a single one', () => {
    const out = DomainDef.fromXML(xml(`<a:x xmlns:a="urn:a" v='say "hi" &apos;n'>1 &lt; 2</a:x>`)).toXML();
    expect(out).toContain(`<a:x xmlns:a="urn:a" v="say &quot;hi&quot; 'n">1 &lt; 2</a:x>`);
  });
});
