/**
 * Character classes of XML 1.0 (fifth edition), on UTF-16 code units.
 *
 * The parser reads a JavaScript string, so a character outside the BMP is a
 * surrogate pair; the helpers here take one code unit and leave pairing to
 * the caller. ASCII is answered from a table, which is what keeps name
 * scanning cheap on libvirt documents (they are almost all ASCII).
 *
 * @module
 */

/** Bit set in {@link ASCII_NAME} for characters that may start a name. */
export const NAME_START = 1;
/** Bit set in {@link ASCII_NAME} for characters that may continue a name. */
export const NAME_CHAR = 2;

/** Name classes of the ASCII range; the colon is left out (namespaces treat it apart). */
export const ASCII_NAME: Uint8Array = (() => {
  const t = new Uint8Array(128);
  const both = NAME_START | NAME_CHAR;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = both; // A-Z
  for (let c = 0x61; c <= 0x7a; c++) t[c] = both; // a-z
  t[0x5f] = both; // _
  for (let c = 0x30; c <= 0x39; c++) t[c] = NAME_CHAR; // 0-9
  t[0x2d] = NAME_CHAR; // -
  t[0x2e] = NAME_CHAR; // .
  return t;
})();

/**
 * Whether a BMP code unit at or above 0x80 may start a name. Surrogates are
 * answered by the caller: a high surrogate up to U+DB7F followed by a low one
 * is a name character (the supplementary planes up to U+EFFFF).
 */
export function isNameStartHigh(c: number): boolean {
  if (c < 0x2000) {
    return (
      (c >= 0xc0 && c <= 0xd6) ||
      (c >= 0xd8 && c <= 0xf6) ||
      (c >= 0xf8 && c <= 0x2ff) ||
      (c >= 0x370 && c <= 0x37d) ||
      c >= 0x37f
    );
  }
  return (
    c === 0x200c ||
    c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) ||
    (c >= 0x2c00 && c <= 0x2fef) ||
    (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) ||
    (c >= 0xfdf0 && c <= 0xfffd)
  );
}

/** Whether a BMP code unit at or above 0x80 may continue a name. */
export function isNameCharHigh(c: number): boolean {
  return isNameStartHigh(c) || c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040;
}

/** A high surrogate whose pairs fall in the name range U+10000..U+EFFFF. */
export function isNameHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdb7f;
}

export function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

export function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** XML white space: space, tab, line feed, carriage return. */
export function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

/** Whether a code point (not a code unit) is an XML Char. */
export function isXmlCodePoint(cp: number): boolean {
  if (cp < 0x20) return cp === 0x09 || cp === 0x0a || cp === 0x0d;
  if (cp < 0xd800) return true;
  if (cp < 0xe000) return false;
  if (cp <= 0xfffd) return true;
  return cp >= 0x10000 && cp <= 0x10ffff;
}

/** Human form of a code unit or point for messages, e.g. `U+0000`. */
export function codeName(c: number): string {
  return `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
}
