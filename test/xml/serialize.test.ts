import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { xmlEqual } from '../../src/xml/equal.js';
import { parseXml } from '../../src/xml/parse.js';
import { escapeAttr, escapeText, serializeXml } from '../../src/xml/serialize.js';
import { element, type XmlElement } from '../../src/xml/tree.js';

describe('serializeXml', () => {
  it("writes libvirt's layout: two spaces, single quotes, self-closed empties, inline text", () => {
    const xml =
      "<cpu mode=\"custom\"><model fallback='allow'>Penryn</model><topology sockets='1' cores='2' threads='1'/></cpu>";
    expect(serializeXml(parseXml(xml))).toBe(
      "<cpu mode='custom'>\n  <model fallback='allow'>Penryn</model>\n  <topology sockets='1' cores='2' threads='1'/>\n</cpu>\n",
    );
  });

  it('escapes the five specials everywhere and whitespace controls in attributes', () => {
    expect(escapeText(`a&b<c>d"e'f\r`)).toBe('a&amp;b&lt;c&gt;d&quot;e&apos;f&#xD;');
    expect(escapeAttr("x\ny\tz\r'")).toBe('x&#xA;y&#x9;z&#xD;&apos;');
  });

  it('keeps mixed content as written', () => {
    const el = parseXml('<p>a <b>bold</b> word</p>');
    expect(serializeXml(el, { finalNewline: false })).toBe('<p>a <b>bold</b> word</p>');
  });

  it('writes an empty text value as an open/close pair', () => {
    const el = element('doi', [], [{ type: 'text', value: '' }]);
    expect(serializeXml(el, { finalNewline: false })).toBe('<doi></doi>');
  });

  it('round-trips any attribute and text value exactly (property)', () => {
    // Characters legal in XML 1.0, including the ones parsers normalise.
    const xmlChar = fc.oneof(
      fc.constantFrom('\n', '\r', '\t', '&', '<', '>', "'", '"', ']]>', '\u2028', '\u0085', 'é', '𝄞'),
      fc.string({ minLength: 1, maxLength: 3 }).filter((s) => /^[\u0020-\ud7ff\ue000-\ufffd]*$/.test(s)),
    );
    const value = fc.array(xmlChar, { maxLength: 12 }).map((a) => a.join(''));
    fc.assert(
      fc.property(value, value, (attrValue, textValue) => {
        const el: XmlElement = element(
          'a',
          [{ name: 'v', value: attrValue }],
          [{ type: 'text', value: textValue }],
        );
        const back = parseXml(serializeXml(el), { keepWhitespace: true });
        expect(back.attrs[0]?.value).toBe(attrValue);
        const text = back.children
          .map((c) => (c.type === 'text' || c.type === 'cdata' ? c.value : ''))
          .join('');
        expect(text).toBe(textValue);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips generated trees semantically (property)', () => {
    const name = fc.constantFrom('a', 'b', 'c', 'x:y');
    const tree = (depth: number): fc.Arbitrary<XmlElement> =>
      fc
        .tuple(
          name,
          fc.uniqueArray(fc.constantFrom('p', 'q', 'r'), { maxLength: 3 }),
          fc.string({ maxLength: 5 }),
          depth === 0 ? fc.constant<XmlElement[]>([]) : fc.array(tree(depth - 1), { maxLength: 3 }),
        )
        .map(([n, attrNames, v, kids]) =>
          element(
            n,
            attrNames.map((a) => ({ name: a, value: v })),
            kids,
          ),
        );
    fc.assert(
      fc.property(tree(3), (t) => {
        const root = element('root', [{ name: 'xmlns:x', value: 'urn:x' }], [t]);
        expect(xmlEqual(root, parseXml(serializeXml(root)))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
