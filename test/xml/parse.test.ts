import { describe, expect, it } from 'vitest';
import { VirError } from '../../src/errors.js';
import { parseXml } from '../../src/xml/parse.js';

function rejects(xml: string, options: Parameters<typeof parseXml>[1] = {}): VirError {
  try {
    parseXml(xml, options);
  } catch (err) {
    expect(err).toBeInstanceOf(VirError);
    return err as VirError;
  }
  throw new Error('expected a VirError');
}

describe('parseXml', () => {
  it('builds the tree with attributes in order and source positions', () => {
    const el = parseXml(
      "<cpu mode='custom' match=\"exact\">\n  <model fallback='allow'>Penryn</model>\n</cpu>",
    );
    expect(el.name).toBe('cpu');
    expect(el.attrs).toEqual([
      { name: 'mode', value: 'custom' },
      { name: 'match', value: 'exact' },
    ]);
    expect(el.line).toBe(1);
    const model = el.children[0];
    expect(model).toMatchObject({ type: 'element', name: 'model', line: 2, column: 3 });
    expect(el.children).toHaveLength(1); // indentation dropped
  });

  it('keeps comments, CDATA and namespaced names', () => {
    const el = parseXml(
      "<domain xmlns:q='http://libvirt.org/schemas/domain/qemu/1.0'><!-- hi --><q:commandline><q:arg value='-a'/></q:commandline><description><![CDATA[<b>]]></description></domain>",
    );
    expect(el.children.map((c) => c.type)).toEqual(['comment', 'element', 'element']);
    expect(el.children[1]).toMatchObject({ name: 'q:commandline' });
    expect(el.children[2]).toMatchObject({ children: [{ type: 'cdata', value: '<b>' }] });
  });

  it('decodes character references and keeps newlines and tabs in attribute values', () => {
    const el = parseXml("<a v='x&#xA;y&#x9;z &amp; &apos;q&apos;'>1 &lt; 2</a>");
    expect(el.attrs[0]?.value).toBe("x\ny\tz & 'q'");
    expect(el.children[0]).toEqual({ type: 'text', value: '1 < 2' });
  });

  it('does not rewrite U+2028 or U+0085 in text', () => {
    const el = parseXml('<a>x\u2028y\u0085z</a>');
    expect(el.children[0]).toEqual({ type: 'text', value: 'x\u2028y\u0085z' });
  });

  it('rejects malformed XML with line and column', () => {
    const err = rejects('<domain>\n  <name>x</nam>\n</domain>');
    expect(err.code).toBe('XML_ERROR');
    expect(err.domain).toBe('xml');
    expect(err.line).toBe(2);
    expect(err.message).toMatch(/malformed XML at line 2/);
  });

  it('rejects what a lenient parser would repair', () => {
    expect(rejects('<a x=1/>').code).toBe('XML_ERROR');
    expect(rejects('<a>&nbsp;</a>').code).toBe('XML_ERROR');
    expect(rejects('').code).toBe('XML_ERROR');
    expect(rejects('just text').code).toBe('XML_ERROR');
  });

  it('refuses DOCTYPE with an external entity', () => {
    const err = rejects(
      '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<d>&x;</d>',
    );
    expect(err.code).toBe('XML_ERROR');
    expect(err.line).toBe(2);
    expect(err.message).toMatch(/DOCTYPE/);
  });

  it('refuses the billion laughs document before expanding anything', () => {
    const lol = [
      '<!DOCTYPE lolz [',
      ' <!ENTITY lol "lol">',
      ...Array.from(
        { length: 9 },
        (_, i) => ` <!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`,
      ),
      ']>',
      '<lolz>&lol9;</lolz>',
    ].join('\n');
    const err = rejects(lol);
    expect(err.code).toBe('XML_ERROR');
    expect(err.line).toBe(1);
  });

  it('does not mistake DOCTYPE text inside a comment or CDATA for a declaration', () => {
    expect(parseXml('<a><!-- <!DOCTYPE x> --><![CDATA[<!ENTITY y>]]></a>').name).toBe('a');
  });

  it('refuses documents over the size limit without parsing them', () => {
    const big = `<a>${'x'.repeat(100 * 1024 * 1024)}</a>`;
    const err = rejects(big);
    expect(err.code).toBe('XML_ERROR');
    expect(err.message).toMatch(/exceeds the limit of 16777216/);
    expect(rejects('<a>0123456789</a>', { maxSize: 10 }).code).toBe('XML_ERROR');
  });

  it('refuses nesting deeper than the limit, naming the line', () => {
    const deep = `${'<a>\n'.repeat(100_000)}${'</a>'.repeat(100_000)}`;
    const err = rejects(deep);
    expect(err.code).toBe('XML_ERROR');
    expect(err.line).toBe(257);
    expect(err.message).toMatch(/deeper than the limit of 256/);
    expect(() => parseXml(`${'<a>'.repeat(256)}${'</a>'.repeat(256)}`)).not.toThrow();
    expect(rejects(`${'<a>'.repeat(11)}${'</a>'.repeat(11)}`, { maxDepth: 10 }).code).toBe('XML_ERROR');
  });

  it('counts self-closing tags and quoted > correctly when measuring depth', () => {
    const xml = `<r>${"<e a='>'/>".repeat(1000)}</r>`;
    expect(parseXml(xml, { maxDepth: 2 }).children).toHaveLength(1000);
  });

  it('rejects a non-string with INVALID_ARG', () => {
    expect(() => parseXml(42 as unknown as string)).toThrow(expect.objectContaining({ code: 'INVALID_ARG' }));
  });
});

describe('positions of text, CDATA, comment and PI nodes', () => {
  const doc = '<a>\n  <b>one</b><!-- c -->\n\t<?p q?><![CDATA[x]]>tail\n</a>';
  const root = parseXml(doc, { keepWhitespace: true });

  it('gives the line and column where each starts', () => {
    const b = root.children[1];
    expect(b?.type === 'element' && b.children[0]).toMatchObject({ value: 'one', line: 2, column: 6 });
    const at = (i: number) => ({ line: root.children[i]?.line, column: root.children[i]?.column });
    expect(root.children.map((c) => c.type)).toEqual([
      'text',
      'element',
      'comment',
      'text',
      'pi',
      'cdata',
      'text',
    ]);
    expect(at(0)).toEqual({ line: 1, column: 4 });
    expect(at(2)).toEqual({ line: 2, column: 13 });
    expect(at(3)).toEqual({ line: 2, column: 23 });
    expect(at(4)).toEqual({ line: 3, column: 2 });
    expect(at(5)).toEqual({ line: 3, column: 9 });
    expect(at(6)).toEqual({ line: 3, column: 22 });
  });

  it('keeps them off the enumerable shape, so parsed trees equal hand-built ones', () => {
    expect(parseXml('<a>x<!--y--></a>').children).toEqual([
      { type: 'text', value: 'x' },
      { type: 'comment', value: 'y' },
    ]);
    expect(Object.keys(root.children[2]!)).toEqual(['type', 'value']);
    expect(JSON.stringify(root.children[4])).toBe('{"type":"pi","target":"p","value":"q"}');
  });
});
