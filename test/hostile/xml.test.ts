/**
 * Hostile XML: every class of input the parser must refuse (or, for legal
 * oddities, accept), with the code and the position at fault. Their time and
 * memory are bounded by design (one pass, limits checked as they are
 * crossed) and measured by bench/xml-fuzz.ts, not timed here.
 */
import { describe, expect, it } from 'vitest';
import { VirError } from '../../src/errors.js';
import { parseXml } from '../../src/xml/parse.js';

function refused(xml: string, options: Parameters<typeof parseXml>[1] = {}): VirError {
  try {
    parseXml(xml, options);
  } catch (err) {
    expect(err).toBeInstanceOf(VirError);
    expect((err as VirError).code).toBe('XML_ERROR');
    return err as VirError;
  }
  throw new Error(`expected XML_ERROR for ${JSON.stringify(xml.slice(0, 80))}`);
}

function at(err: VirError): [number | undefined, number | undefined] {
  return [err.line, err.column];
}

describe('illegal characters', () => {
  const cases: Array<[string, string]> = [
    ['NUL', '\u0000'],
    ['a C0 control', '\u0001'],
    ['vertical tab', '\u000b'],
    ['U+001F', '\u001f'],
    ['U+FFFE', '\ufffe'],
    ['U+FFFF', '\uffff'],
    ['a lone high surrogate', '\ud800'],
    ['a lone low surrogate', '\udc00'],
    ['a reversed pair', '\udc00\ud800'],
  ];
  for (const [what, ch] of cases) {
    it(`refuses ${what} in text, attribute values, comments, CDATA and PIs, at its position`, () => {
      expect(at(refused(`<a>\n  x${ch}</a>`))).toEqual([2, 4]);
      expect(at(refused(`<a b='${ch}'/>`))).toEqual([1, 7]);
      expect(at(refused(`<a><!--${ch}--></a>`))).toEqual([1, 8]);
      expect(at(refused(`<a><![CDATA[${ch}]]></a>`))).toEqual([1, 13]);
      expect(at(refused(`<a><?p ${ch}?></a>`))).toEqual([1, 8]);
    });
  }

  it('accepts U+FFFD, U+0085, U+2028, private use and supplementary characters', () => {
    const el = parseXml("<a b='\ufffd'>\ufffd\u0085\u2028\ue000\u{10ffff}\u{1f600}</a>");
    expect(el.attrs[0]?.value).toBe('\ufffd');
    expect(el.children[0]).toEqual({ type: 'text', value: '\ufffd\u0085\u2028\ue000\u{10ffff}\u{1f600}' });
  });

  it('refuses references to what is not a character', () => {
    for (const ref of [
      '&#0;',
      '&#x0;',
      '&#1;',
      '&#x1F;',
      '&#xD800;',
      '&#xDFFF;',
      '&#xFFFE;',
      '&#xFFFF;',
      '&#x110000;',
    ])
      expect(at(refused(`<a>${ref}</a>`))).toEqual([1, 4]);
    expect(refused('<a>&#99999999999999999999999999;</a>').message).toMatch(/beyond U\+10FFFF/);
    expect(parseXml('<a>&#x9;&#xA;&#xD;&#xFFFD;&#x10FFFF;</a>').children[0]).toEqual({
      type: 'text',
      value: '\t\n\r\ufffd\u{10ffff}',
    });
  });
});

describe('markup', () => {
  it("refuses ']]>' in text but not in attribute values", () => {
    expect(at(refused('<a>x]]>y</a>'))).toEqual([1, 5]);
    expect(parseXml("<a b=']]>'/>").attrs[0]?.value).toBe(']]>');
  });

  it("refuses '--' in comments and a comment ending in '-'", () => {
    expect(refused('<a><!-- a -- b --></a>').message).toMatch(/'--'/);
    expect(refused('<a><!-- a ---></a>').code).toBe('XML_ERROR');
  });

  it('refuses undefined entities, an XML declaration not at the start and reserved PI targets', () => {
    expect(refused('<a>&nbsp;</a>').message).toMatch(/entity 'nbsp' is not defined/);
    expect(at(refused(' <?xml version="1.0"?><a/>'))).toEqual([1, 4]);
    expect(refused('<a><?XmL x?></a>').message).toMatch(/reserved/);
  });

  it('refuses a DOCTYPE anywhere', () => {
    expect(refused('<!DOCTYPE a><a/>').message).toMatch(/DOCTYPE/);
    expect(refused('<a><!DOCTYPE a></a>').message).toMatch(/DOCTYPE/);
  });
});

describe('namespaces', () => {
  it('refuses rebinding xml, binding xmlns, empty prefixed names and the reserved names', () => {
    expect(refused("<a xmlns:xml='urn:x'/>").message).toMatch(/prefix xml/);
    expect(refused("<a xmlns:xmlns='urn:x'/>").message).toMatch(/xmlns cannot be declared/);
    expect(refused("<a xmlns:p=''/>").message).toMatch(/empty name/);
    expect(refused("<a xmlns:p='http://www.w3.org/2000/xmlns/'/>").code).toBe('XML_ERROR');
    expect(refused("<a xmlns='http://www.w3.org/XML/1998/namespace'/>").code).toBe('XML_ERROR');
    // as in libxml2, a declaration of the xml prefix (its one URI) is checked, then not kept
    expect(parseXml("<a xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:lang='en'/>").attrs).toEqual([
      { name: 'xml:lang', value: 'en' },
    ]);
    const twice = "xmlns:xml='http://www.w3.org/XML/1998/namespace'";
    expect(parseXml(`<a ${twice} ${twice}/>`).attrs).toEqual([]);
  });

  it('refuses undeclared prefixes, malformed qualified names and namespace names that are not URIs', () => {
    expect(refused('<p:a/>').message).toMatch(/prefix 'p'/);
    expect(refused("<a p:b='1'/>").message).toMatch(/prefix 'p'/);
    expect(refused('<a:b:c/>').code).toBe('XML_ERROR');
    expect(refused("<a xmlns:p='http://h/a b'/>").message).toMatch(/not a URI reference/);
    expect(parseXml("<a xmlns:p='relative/ok'><p:b/></a>").children).toHaveLength(1);
  });

  it('refuses one attribute written twice through two prefixes', () => {
    const err = refused("<a xmlns:p='urn:u' xmlns:q='urn:u' p:x='1' q:x='2'/>");
    expect(err.message).toMatch(/namespace and local name/);
    // the same with many attributes goes through the set, not the scan
    const many = Array.from({ length: 40 }, (_, i) => ` p:a${i}='1'`).join('');
    expect(refused(`<a xmlns:p='urn:u' xmlns:q='urn:u'${many} q:a39='2'/>`).code).toBe('XML_ERROR');
  });

  it('scopes declarations to their element', () => {
    expect(refused("<a><b xmlns:p='urn:u'/><p:c/></a>").message).toMatch(/prefix 'p'/);
  });
});

describe('limits', () => {
  it('refuses 10^6 attributes at the 1,025th', () => {
    const attrs = Array.from({ length: 1_000_000 }, (_, i) => ` a${i}=''`).join('');
    const err = refused(`<a${attrs}/>`);
    expect(err.message).toMatch(/limit of 1024 attributes/);
    // the 1,025th name starts just after its space; columns are 1-based
    expect(err.column).toBe(2 + attrs.indexOf(' a1024=') + 1 + 1);
  });

  it('refuses 10^6 siblings (and 10^6 comments) past the node limit, where it is crossed', () => {
    const sib = `<r>${'<u/>'.repeat(1_000_000)}</r>`;
    const err = refused(sib);
    expect(err.message).toMatch(/limit of 1000000 nodes/);
    // the root is node 1, so the 1,000,000th <u/> is the one past the limit
    expect(err.column).toBe(3 + 4 * 999_999 + 1);
    expect(parseXml(`<r>${'<u/>'.repeat(999)}</r>`, { maxNodes: 1000 }).children).toHaveLength(999);
    expect(refused(`<r>${'<!---->'.repeat(1_000_000)}</r>`).message).toMatch(/nodes/);
  });

  it('accepts 10^5 namespace declarations on one element when the attribute limit allows', () => {
    const decls = Array.from({ length: 100_000 }, (_, i) => ` xmlns:p${i}='urn:x:${i}'`).join('');
    expect(refused(`<a${decls}/>`).message).toMatch(/attributes/);
    const el = parseXml(`<a${decls}><p99999:b/></a>`, { maxAttributes: 100_000 });
    expect(el.children[0]).toMatchObject({ name: 'p99999:b' });
  });

  it('refuses names and values past their limits', () => {
    expect(refused(`<${'a'.repeat(101)}/>`, { maxNameLength: 100 }).message).toMatch(/element name longer/);
    expect(refused(`<a b='${'x'.repeat(101)}'/>`, { maxTextLength: 100 }).message).toMatch(
      /attribute b longer/,
    );
    expect(refused(`<a>${'x'.repeat(101)}</a>`, { maxTextLength: 100 }).message).toMatch(/text longer/);
    expect(refused(`<a><!--${'x'.repeat(101)}--></a>`, { maxTextLength: 100 }).message).toMatch(
      /comment longer/,
    );
  });

  it('reports truncated documents at their end', () => {
    expect(refused('<a><b>').message).toMatch(/<b> opened at line 1 is not closed/);
    expect(refused("<a b='").message).toMatch(/not closed/);
    expect(refused('<a><!--').message).toMatch(/comment is not closed/);
  });
});
