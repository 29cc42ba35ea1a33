/**
 * The XML declaration, `<?xml version="1.0" encoding="UTF-8" standalone="no"?>`.
 *
 * The input is already a decoded string, so the declared encoding changes
 * nothing; it is still checked, and only names that describe text we can
 * have been given (UTF-8, ASCII and the ISO 8859 family, as libxml2 would
 * read them) are accepted, so that a document claiming to be UTF-16 is not
 * silently taken for something else.
 *
 * @module
 */
import { XmlScanner } from './scanner.js';

const ENCODINGS = /^(?:utf-?8|us-ascii|ascii|iso[-_]8859[-_](?:[1-9]|1[0-6])|latin-?1)$/i;

export class PrologScanner extends XmlScanner {
  /** Reads the declaration's pseudo-attributes; the offset is just after `<?xml`. */
  protected xmlDecl(): void {
    const start = this.i - 5;
    let pseudo = this.pseudoAttr(start);
    if (pseudo?.name !== 'version') this.fail("the XML declaration must start with 'version'", this.i);
    if (!/^1\.[0-9]+$/.test(pseudo.value))
      this.fail(`XML version '${pseudo.value}' is not supported (only 1.x)`, pseudo.at);
    pseudo = this.pseudoAttr(start);
    if (pseudo?.name === 'encoding') {
      if (!/^[A-Za-z][A-Za-z0-9._-]*$/.test(pseudo.value))
        this.fail(`'${pseudo.value}' is not an encoding name`, pseudo.at);
      if (!ENCODINGS.test(pseudo.value))
        this.fail(`encoding '${pseudo.value}' is not supported (the text is read as Unicode)`, pseudo.at);
      pseudo = this.pseudoAttr(start);
    }
    if (pseudo?.name === 'standalone') {
      if (pseudo.value !== 'yes' && pseudo.value !== 'no')
        this.fail(`standalone must be 'yes' or 'no', not '${pseudo.value}'`, pseudo.at);
      pseudo = this.pseudoAttr(start);
    }
    if (pseudo !== undefined) this.fail(`unexpected '${pseudo.name}' in the XML declaration`, pseudo.at);
    this.skipSpace();
    if (!this.s.startsWith('?>', this.i)) this.fail("expected '?>' to end the XML declaration", this.i);
    this.i += 2;
  }

  /** One `S name Eq quoted-value`, or undefined at `?>`. */
  private pseudoAttr(start: number): { name: string; value: string; at: number } | undefined {
    const s = this.s;
    const spaced = this.skipSpace();
    if (s.startsWith('?>', this.i)) return undefined;
    if (!spaced) this.fail('expected white space in the XML declaration', this.i);
    const at = this.i;
    let i = at;
    while (i < this.n && i - at < 16 && /[a-z]/.test(s[i]!)) i++;
    const name = s.slice(at, i);
    if (name === '') this.fail("expected '?>' to end the XML declaration", at);
    this.i = i;
    this.skipSpace();
    if (s.charCodeAt(this.i) !== 0x3d) this.fail(`expected '=' after ${name} in the XML declaration`, this.i);
    this.i++;
    this.skipSpace();
    const quote = s[this.i];
    if (quote !== '"' && quote !== "'") this.fail(`value of ${name} must be quoted`, this.i);
    const end = s.indexOf(quote, this.i + 1);
    // a value may not run past the declaration: stop at '?>' or the end
    const close = s.indexOf('?>', this.i + 1);
    if (end < 0 || (close >= 0 && close < end)) this.fail(`value of ${name} is not closed`, start);
    const value = s.slice(this.i + 1, end);
    this.i = end + 1;
    return { name, value, at };
  }
}
