/**
 * virtkit's XML parser: one forward pass over the string that checks XML 1.0
 * (fifth edition) well-formedness and XML namespaces, and builds the
 * {@link XmlElement} tree as it goes.
 *
 * What it refuses, beyond malformed text: any DOCTYPE (so no entities but
 * the five predefined ones, and nothing external is ever read), and anything
 * past the configured {@link XmlLimits}. Open elements live on a stack
 * bounded by the depth limit and namespace bindings on an undo list bounded
 * by the attributes of open elements, so the parser's own memory does not
 * grow with the document; the tree it returns is the only thing that does.
 *
 * @module
 */
import { isSpace } from './chars.js';
import type { XmlLimits } from './limits.js';
import { NamespaceScope } from './namespaces.js';
import { parsedCData, parsedComment, parsedPi, parsedText } from './positioned.js';
import { PrologScanner } from './prolog.js';
import { describeAt, RUN_CDATA, RUN_COMMENT, RUN_PI } from './scanner.js';
import type { XmlAttr, XmlElement, XmlNode, XmlProcessingInstruction } from './tree.js';

/** Above this many attributes, duplicates are found with a set instead of a scan. */
const SCAN_LIMIT = 12;

export class XmlParser extends PrologScanner {
  private nodes = 0;
  private readonly ns = new NamespaceScope();
  private readonly seen = new Set<string>();
  /** Whether the last start tag read was an empty-element tag. */
  private wasEmpty = false;

  constructor(
    input: string,
    limits: XmlLimits,
    where: string,
    private readonly keepWhitespace: boolean,
  ) {
    super(input, limits, where);
  }

  /** Parses the whole document and returns its root element. */
  parseDocument(): XmlElement {
    const s = this.s;
    this.parseProlog();
    if (this.i >= this.n) this.fail('the document has no root element', this.i);
    const root = this.content();
    this.misc(true);
    if (this.i < this.n) this.fail(`content after the root element: ${describeAt(s, this.i)}`, this.i);
    return root;
  }

  /** Reads only the prologue (declaration, comments, PIs), refusing a DOCTYPE, and stops at the root. */
  parseProlog(): void {
    const s = this.s;
    if (s.charCodeAt(0) === 0xfeff) this.i = 1; // a byte order mark survives decoding
    if (s.startsWith('<?xml', this.i) && isSpace(s.charCodeAt(this.i + 5))) {
      this.i += 5;
      this.xmlDecl();
    }
    this.misc(false);
  }

  /** Comments, PIs and white space around the root; they are not kept. */
  private misc(afterRoot: boolean): void {
    const s = this.s;
    for (;;) {
      this.skipSpace();
      const i = this.i;
      if (s.charCodeAt(i) !== 0x3c) {
        if (i < this.n && !afterRoot) this.fail(`expected the root element, found ${describeAt(s, i)}`, i);
        return;
      }
      const c = s.charCodeAt(i + 1);
      if (c === 0x3f) {
        this.i = i + 2;
        this.pi(i);
      } else if (c === 0x21 && s.startsWith('<!--', i)) {
        this.i = i + 4;
        this.rawRun(RUN_COMMENT, i);
      } else if (c === 0x21 && s.startsWith('<!DOCTYPE', i)) {
        this.refuse('DOCTYPE declarations are not allowed (no DTD, no entities)', i);
      } else if (c === 0x21) {
        this.fail(afterRoot ? 'content after the root element' : `expected the root element, found '<!'`, i);
      } else {
        if (afterRoot) this.fail('a document has exactly one root element', i);
        return;
      }
    }
  }

  private count(at: number): void {
    if (++this.nodes > this.limits.maxNodes)
      this.refuse(`more than the limit of ${this.limits.maxNodes} nodes`, at);
  }

  /** Parses the root element and everything in it, iteratively. */
  private content(): XmlElement {
    const s = this.s;
    const stack: XmlElement[] = [];
    const marks: number[] = []; // namespace scope mark when each open element started
    const flags: number[] = []; // bit 1: has an element child, bit 2: kept white space text
    const root = this.startTag(this.i);
    if (this.wasEmpty) return root;
    stack.push(root);
    marks.push(0);
    flags.push(0);
    let top = root;
    while (stack.length > 0) {
      const d = stack.length - 1;
      const textStart = this.i;
      const textLine = this.line;
      const textColumn = textStart - this.lineStart + 1;
      if ((flags[d]! & 1) !== 0 && !this.keepWhitespace && this.skipIndent()) {
        // indentation after an element child: dropped without building a string
      } else {
        const value = this.text();
        if (value !== '') {
          if (!this.keepWhitespace && isBlank(value)) {
            // indentation: dropped now when an element sibling is known, else at the end tag
            if ((flags[d]! & 1) === 0) {
              this.count(textStart);
              top.children.push(parsedText(value, textLine, textColumn));
              flags[d]! |= 2;
            }
          } else {
            this.count(textStart);
            top.children.push(parsedText(value, textLine, textColumn));
          }
        }
      }
      const lt = this.i;
      if (lt >= this.n) this.fail(`element <${top.name}> opened at line ${top.line} is not closed`, lt);
      const c = s.charCodeAt(lt + 1);
      if (c === 0x2f) {
        this.endTag(top, lt);
        this.ns.unbind(marks.pop()!);
        const f = flags.pop()!;
        if (f === 3) top.children = top.children.filter((k) => k.type !== 'text' || !isBlank(k.value));
        stack.pop();
        top = stack[stack.length - 1]!;
        continue;
      }
      if (c === 0x21) {
        this.markup(top.children, lt);
        continue;
      }
      if (c === 0x3f) {
        this.i = lt + 2;
        const pi = this.pi(lt);
        this.count(lt);
        top.children.push(pi);
        continue;
      }
      if (stack.length >= this.limits.maxDepth)
        this.refuse(`elements nested deeper than the limit of ${this.limits.maxDepth}`, lt);
      const mark = this.ns.mark;
      const el = this.startTag(lt);
      top.children.push(el);
      flags[d]! |= 1;
      if (this.wasEmpty) {
        this.ns.unbind(mark);
        continue;
      }
      stack.push(el);
      marks.push(mark);
      flags.push(0);
      top = el;
    }
    return root;
  }

  /** `<!--`, `<![CDATA[` or something refused, inside an element. */
  private markup(children: XmlNode[], lt: number): void {
    const s = this.s;
    const line = this.line;
    const column = lt - this.lineStart + 1;
    if (s.startsWith('<!--', lt)) {
      this.i = lt + 4;
      const value = this.rawRun(RUN_COMMENT, lt);
      this.count(lt);
      children.push(parsedComment(value, line, column));
    } else if (s.startsWith('<![CDATA[', lt)) {
      this.i = lt + 9;
      const value = this.rawRun(RUN_CDATA, lt);
      this.count(lt);
      children.push(parsedCData(value, line, column));
    } else if (s.startsWith('<!DOCTYPE', lt) || s.startsWith('<!ENTITY', lt)) {
      this.refuse('DOCTYPE and ENTITY declarations are not allowed', lt);
    } else {
      this.fail("'<!' starts neither a comment nor a CDATA section", lt);
    }
  }

  /** A processing instruction after `<?`; PIs named xml (in any case) are reserved. */
  private pi(lt: number): XmlProcessingInstruction {
    const line = this.line;
    const column = lt - this.lineStart + 1;
    const nameAt = this.i;
    const target = this.qname('a processing instruction target');
    if (this.colon >= 0) this.fail(`processing instruction target '${target}' contains a colon`, nameAt);
    if (target.length === 3 && target.toLowerCase() === 'xml')
      this.fail(
        target === 'xml'
          ? 'an XML declaration is only allowed at the very start of the document'
          : `processing instruction target '${target}' is reserved`,
        nameAt,
      );
    let value = '';
    if (this.s.startsWith('?>', this.i)) this.i += 2;
    else {
      if (!this.skipSpace()) this.fail(`expected white space or '?>' after '${target}'`, this.i);
      value = this.rawRun(RUN_PI, lt);
    }
    return parsedPi(target, value, line, column);
  }

  /**
   * Skips white space (space, tab, LF) when only white space stands before
   * the next `<`, and says whether it did; otherwise moves nothing, so that
   * {@link text} reads the run (and counts its lines) itself.
   */
  private skipIndent(): boolean {
    const s = this.s;
    let i = this.i;
    let lines = 0;
    let lineStart = this.lineStart;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x09) i++;
      else if (c === 0x0a) {
        lines++;
        lineStart = ++i;
      } else if (c === 0x3c) break;
      else return false;
    }
    this.i = i;
    this.line += lines;
    this.lineStart = lineStart;
    return true;
  }

  /** Character data up to the next `<` (or the end), references decoded, line ends normalised. */
  private text(): string {
    const s = this.s;
    let i = this.i;
    let seg = i;
    let buf = '';
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x3c) break;
      if (c >= 0x20 && c < 0xd800 && c !== 0x26 && c !== 0x5d) {
        i++;
        continue;
      }
      if (c === 0x0a) {
        i++;
        this.line++;
        this.lineStart = i;
      } else if (c === 0x09) i++;
      else if (c === 0x26) {
        buf += s.slice(seg, i);
        this.i = i;
        buf += this.reference();
        i = seg = this.i;
      } else if (c === 0x5d) {
        if (s.charCodeAt(i + 1) === 0x5d && s.charCodeAt(i + 2) === 0x3e)
          this.fail("']]>' is not allowed in text (write ']]&gt;')", i);
        i++;
      } else if (c === 0x0d) {
        buf += `${s.slice(seg, i)}\n`;
        i = this.afterCr(i);
        seg = i;
      } else if (i >= this.n) break;
      else i = this.checkChar(i);
    }
    const start = this.i;
    this.i = i;
    const value = buf === '' ? s.slice(seg, i) : buf + s.slice(seg, i);
    if (value.length > this.limits.maxTextLength)
      this.refuse(`text longer than the limit of ${this.limits.maxTextLength} characters`, start);
    return value;
  }

  /** A start tag at `lt`; sets {@link wasEmpty} when it was `/>`, so the caller does not open it. */
  private startTag(lt: number): XmlElement {
    const s = this.s;
    const column = lt - this.lineStart + 1;
    this.count(lt);
    this.i = lt + 1;
    const name = this.qname('an element name');
    const elColon = this.colon >= 0 ? this.colon - (this.i - name.length) : -1;
    const attrs: XmlAttr[] = [];
    let prefixed = 0; // attributes with a prefix other than xmlns, checked once bindings are known
    let empty = false;
    for (;;) {
      const spaced = this.skipSpace();
      const c = s.charCodeAt(this.i);
      if (c === 0x3e) {
        this.i++;
        break;
      }
      if (c === 0x2f) {
        if (s.charCodeAt(this.i + 1) !== 0x3e) this.fail("expected '>' after '/' in a tag", this.i + 1);
        this.i += 2;
        empty = true;
        break;
      }
      if (this.i >= this.n) this.fail(`start tag <${name}> is not closed`, lt);
      if (!spaced)
        this.fail(`expected white space, '>' or '/>' in <${name}>, found ${describeAt(s, this.i)}`);
      const at = this.i;
      const attrName = this.qname('an attribute name');
      const colon = this.colon >= 0 ? this.colon - at : -1;
      this.skipSpace();
      if (s.charCodeAt(this.i) !== 0x3d) this.fail(`expected '=' after attribute ${attrName}`);
      this.i++;
      this.skipSpace();
      const value = this.attrValue(attrName);
      if (colon === 5 && attrName === 'xmlns:xml') {
        // the xml prefix is bound already: libxml2 checks the URI and keeps no
        // declaration (not even a repeated one), and so the tree has none
        const wrong = this.ns.declare('xml', value);
        if (wrong) this.fail(wrong, at);
        continue;
      }
      if (attrs.length >= this.limits.maxAttributes)
        this.refuse(`more than the limit of ${this.limits.maxAttributes} attributes on <${name}>`, at);
      this.checkUnique(attrs, attrName, at);
      attrs.push({ name: attrName, value });
      if (colon < 0) {
        if (attrName === 'xmlns') {
          const wrong = this.ns.checkDefault(value);
          if (wrong) this.fail(wrong, at);
        }
      } else if (colon === 5 && attrName.startsWith('xmlns')) {
        const wrong = this.ns.declare(attrName.slice(6), value);
        if (wrong) this.fail(wrong, at);
      } else prefixed++;
    }
    if (elColon >= 0) this.resolve(name.slice(0, elColon), `element <${name}>`, lt);
    if (prefixed > 0) this.checkExpanded(attrs, prefixed, lt);
    // libxml2 numbers an element by the line its start tag ends on; so do we, so its messages find ours
    const el: XmlElement = { type: 'element', name, attrs, children: [], line: this.line, column };
    this.wasEmpty = empty;
    return el;
  }

  private attrValue(name: string): string {
    const s = this.s;
    const quote = s.charCodeAt(this.i);
    if (quote !== 0x22 && quote !== 0x27) this.fail(`value of attribute ${name} must be quoted`);
    const open = this.i;
    let i = open + 1;
    let seg = i;
    let buf = '';
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === quote) break;
      if (c >= 0x20 && c < 0xd800 && c !== 0x26 && c !== 0x3c) {
        i++;
        continue;
      }
      if (c === 0x26) {
        buf += s.slice(seg, i);
        this.i = i;
        buf += this.reference();
        i = seg = this.i;
      } else if (c === 0x0a || c === 0x09 || c === 0x0d) {
        // attribute value normalisation: each white space character (and CR LF) becomes one space
        buf += `${s.slice(seg, i)} `;
        if (c === 0x0d) i = this.afterCr(i);
        else {
          i++;
          if (c === 0x0a) {
            this.line++;
            this.lineStart = i;
          }
        }
        seg = i;
      } else if (c === 0x3c)
        this.fail(`'<' is not allowed in the value of attribute ${name} (write &lt;)`, i);
      else if (i >= this.n) this.fail(`value of attribute ${name} is not closed`, open);
      else i = this.checkChar(i);
    }
    this.i = i + 1;
    const value = buf === '' ? this.intern(seg, i) : buf + s.slice(seg, i);
    if (value.length > this.limits.maxTextLength)
      this.refuse(`value of attribute ${name} longer than the limit of ${this.limits.maxTextLength}`, open);
    return value;
  }

  private checkUnique(attrs: XmlAttr[], name: string, at: number): void {
    const seen = this.seen;
    if (attrs.length < SCAN_LIMIT) {
      for (const a of attrs) if (a.name === name) this.fail(`attribute ${name} appears twice`, at);
      return;
    }
    if (attrs.length === SCAN_LIMIT) {
      seen.clear();
      for (const a of attrs) seen.add(a.name);
    }
    if (seen.has(name)) this.fail(`attribute ${name} appears twice`, at);
    seen.add(name);
  }

  /** Two prefixed attributes may not share a namespace name and local name. */
  private checkExpanded(attrs: XmlAttr[], prefixed: number, lt: number): void {
    const keys: string[] = [];
    const seen = this.seen;
    if (prefixed >= SCAN_LIMIT) seen.clear();
    for (const a of attrs) {
      const colon = a.name.indexOf(':');
      if (colon < 0) continue;
      const prefix = a.name.slice(0, colon);
      if (prefix === 'xmlns') continue;
      const uri = this.resolve(prefix, `attribute ${a.name}`, lt);
      // U+0000 cannot occur in a namespace name, so it separates the two parts safely
      const key = `${uri}\u0000${a.name.slice(colon + 1)}`;
      const dup = prefixed < SCAN_LIMIT ? keys.includes(key) : seen.has(key);
      if (dup)
        this.fail(`attribute ${a.name} repeats another attribute's namespace and local name (${uri})`, lt);
      if (prefixed < SCAN_LIMIT) keys.push(key);
      else seen.add(key);
    }
  }

  private resolve(prefix: string, what: string, at: number): string {
    const uri = this.ns.resolve(prefix);
    if (uri === undefined) this.fail(`namespace prefix '${prefix}' of ${what} is not declared`, at);
    return uri;
  }

  /** An end tag at `lt` that must close `open`. */
  private endTag(open: XmlElement, lt: number): void {
    const s = this.s;
    const i = lt + 2;
    const name = open.name;
    if (s.startsWith(name, i)) {
      this.i = i + name.length;
      const c = s.charCodeAt(this.i);
      if (c === 0x3e || isSpace(c)) {
        this.skipSpace();
        if (s.charCodeAt(this.i) !== 0x3e) this.fail(`expected '>' to end </${name}>`);
        this.i++;
        return;
      }
    }
    this.i = i;
    const found = this.qname('an element name after </');
    this.fail(`end tag </${found}> does not match <${name}> opened at line ${open.line}`, lt);
  }
}

/** True when a text node is only XML white space (indentation). */
function isBlank(value: string): boolean {
  for (let k = 0; k < value.length; k++) {
    const c = value.charCodeAt(k);
    if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}
