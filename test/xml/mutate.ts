/**
 * Seeded mutations of XML documents for differential fuzzing: byte flips to
 * characters from every class the parser must judge, truncation, deleted and
 * repeated spans, and injected references and markup.
 */

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Single code units (or pairs) from each character class. */
export const CHARS = [
  '<',
  '>',
  '&',
  ';',
  '"',
  "'",
  '=',
  '/',
  '!',
  '?',
  '-',
  ']',
  '[',
  ':',
  '#',
  ' ',
  '\n',
  '\r',
  '\t',
  'x',
  'é',
  '0',
  '\u0000',
  '\u0001',
  '\u0008',
  '\u000b',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u00b7',
  '\u00d7',
  '\u0300',
  '\u037e',
  '\u2028',
  '\u200c',
  '\ud7ff',
  '\ue000',
  '\ufdd0',
  '\ufeff',
  '\ufffd',
  '\ufffe',
  '\uffff',
  '\ud800',
  '\udc00',
  '\ud800\udc00',
  '\udb7f\udfff',
  '\udb80\udc00',
  '\udbff\udfff',
];

/** Fragments worth injecting anywhere. */
export const SNIPPETS = [
  '&#0;',
  '&#x0;',
  '&#9;',
  '&#xA;',
  '&#xD;',
  '&#x1F;',
  '&#xD800;',
  '&#xDFFF;',
  '&#xFFFD;',
  '&#xFFFE;',
  '&#xFFFF;',
  '&#x10000;',
  '&#x10FFFF;',
  '&#x110000;',
  '&#99999999999999999999;',
  '&#x;',
  '&#;',
  '&#65',
  '&lt;',
  '&gt;',
  '&amp;',
  '&apos;',
  '&quot;',
  '&amp',
  '&nbsp;',
  '&',
  '&x:y;',
  '<!---->',
  '<!-- - -->',
  '<!-- -- -->',
  '<!--->',
  '<![CDATA[x]]>',
  '<![CDATA[]]]>',
  ']]>',
  ']]',
  '<?pi x?>',
  '<?pi?>',
  '<?xml x?>',
  '<?XmL?>',
  '<?a:b?>',
  '<?xml version="1.0"?>',
  ' xmlns:xml="urn:x"',
  ' xmlns:xml="http://www.w3.org/XML/1998/namespace"',
  ' xmlns:xmlns="u"',
  ' xmlns:p=""',
  ' xmlns="http://www.w3.org/XML/1998/namespace"',
  ' xmlns:p="http://www.w3.org/2000/xmlns/"',
  ' xmlns=""',
  ' xmlns:p="u" p:a="1" xmlns:q="u" q:a="2"',
  ' xmlns:p="u" p:a="1"',
  ' p:a="1"',
  ' a="1" a="2"',
  ' xml:lang="en"',
  '<p:x/>',
  '<x:y:z/>',
  '<a/>',
  '</a>',
  '<a>',
  '<:x/>',
  ' a=1',
  " a='<'",
  ' a="&#60;"',
  '\r\n',
  '\r',
  '\ufffd',
  '<!DOCTYPE a>',
  '<!ENTITY x "y">',
  '<!x>',
  '\u{1F600}',
  '<\u00b7/>',
  '<\u00c0\u0300/>',
];

export function mutate(doc: string, r: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
  const at = () => Math.floor(r() * (doc.length + 1));
  const kind = Math.floor(r() * 6);
  const p = at();
  switch (kind) {
    case 0:
      return doc.slice(0, p) + pick(CHARS) + doc.slice(p + 1);
    case 1:
      return doc.slice(0, p);
    case 2:
      return doc.slice(0, p) + pick(SNIPPETS) + doc.slice(p);
    case 3:
      return doc.slice(0, p) + pick(CHARS) + doc.slice(p);
    case 4: {
      const q = Math.min(doc.length, p + 1 + Math.floor(r() * 16));
      return doc.slice(0, p) + doc.slice(q);
    }
    default: {
      const q = Math.min(doc.length, p + 1 + Math.floor(r() * 32));
      return doc.slice(0, q) + doc.slice(p, q) + doc.slice(q);
    }
  }
}
