/**
 * The lexical half of the parser: position and line tracking, errors with
 * line and column, names, references, and the character-checked runs of
 * comments, CDATA sections and processing instructions.
 *
 * Every loop here moves forward over the input and never looks back, so the
 * whole parse is linear in the length of the document. Line feeds are
 * counted as they are passed; as in libxml2, a lone carriage return becomes
 * a line feed in the text but does not count a line.
 *
 * @module
 */
import { VirError } from '../errors.js';
import {
  ASCII_NAME,
  codeName,
  isLowSurrogate,
  isNameCharHigh,
  isNameHighSurrogate,
  isNameStartHigh,
  isSpace,
  isXmlCodePoint,
  NAME_CHAR,
  NAME_START,
} from './chars.js';
import type { XmlLimits } from './limits.js';

/** What ends a raw run, see {@link XmlScanner.rawRun}. */
export const RUN_COMMENT = 0;
export const RUN_CDATA = 1;
export const RUN_PI = 2;

const RUN_NAMES = ['comment', 'CDATA section', 'processing instruction'];

/**
 * Shared by every parse, so documents of one kind share their names too; it
 * holds at most 1,024 strings of up to 32 characters.
 */
const NAMES: Array<string | undefined> = new Array(1024);

export class XmlScanner {
  protected readonly s: string;
  protected readonly n: number;
  /** Offset of the next unread code unit. */
  protected i = 0;
  /** 1-based line of offset `lineStart`. */
  protected line = 1;
  /** Offset of the first code unit of the current line. */
  protected lineStart = 0;
  /** Offset of the colon in the last name read by {@link qname}, or -1. */
  protected colon = -1;

  constructor(
    input: string,
    protected readonly limits: XmlLimits,
    private readonly where: string,
  ) {
    this.s = input;
    this.n = input.length;
  }

  /** Throws `XML_ERROR` for offset `at`; the line is recounted, which is fine once per parse. */
  fail(reason: string, at: number = this.i, kind: 'malformed XML' | 'XML refused' = 'malformed XML'): never {
    const { line, column } = positionOf(this.s, Math.min(at, this.n));
    throw new VirError(
      'XML_ERROR',
      'xml',
      `${this.where}${kind} at line ${line}, column ${column}: ${reason}`,
      {
        line,
        column,
      },
    );
  }

  protected refuse(reason: string, at: number): never {
    this.fail(reason, at, 'XML refused');
  }

  /** Skips XML white space; true when there was some. */
  protected skipSpace(): boolean {
    const s = this.s;
    const start = this.i;
    let i = start;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x09) i++;
      else if (c === 0x0a) {
        i++;
        this.line++;
        this.lineStart = i;
      } else if (c === 0x0d)
        i++; // a following line feed counts the line
      else break;
    }
    this.i = i;
    return i !== start;
  }

  /**
   * Reads a qualified name: an NCName, or two joined by one colon. The
   * colon's offset is left in {@link colon}. `what` names the thing for the
   * error message.
   */
  protected qname(what: string): string {
    const s = this.s;
    const start = this.i;
    let i = start;
    let colon = -1;
    let c = s.charCodeAt(i);
    // first character of each part must be a name start character
    let atStart = true;
    for (;;) {
      if (c < 0x80) {
        const k = ASCII_NAME[c]!;
        if (k & (atStart ? NAME_START : NAME_CHAR)) i++;
        else if (c === 0x3a && !atStart && colon < 0) {
          colon = i;
          i++;
          atStart = true;
          c = s.charCodeAt(i);
          continue;
        } else break;
      } else if (isNameHighSurrogate(c) && isLowSurrogate(s.charCodeAt(i + 1))) i += 2;
      else if (atStart ? isNameStartHigh(c) : isNameCharHigh(c)) i++;
      else break;
      atStart = false;
      c = s.charCodeAt(i);
    }
    if (i === start) this.fail(`expected ${what}, found ${describeAt(s, i)}`, i);
    if (atStart || c === 0x3a)
      this.fail(`${what} '${s.slice(start, i + 1)}' is not a valid qualified name`, i);
    if (i - start > this.limits.maxNameLength)
      this.refuse(`${what} longer than the limit of ${this.limits.maxNameLength} characters`, start);
    this.colon = colon;
    this.i = i;
    return this.intern(start, i);
  }

  /**
   * `s.slice(start, end)`, but the same string object for a name or short
   * value seen before (a small direct-mapped cache, {@link NAMES}): documents
   * repeat a few names thousands of times, and sharing them saves time and
   * tree memory.
   */
  protected intern(start: number, end: number): string {
    const s = this.s;
    const len = end - start;
    if (len > 32 || len === 0) return s.slice(start, end);
    const h = (s.charCodeAt(start) * 31 + s.charCodeAt(end - 1) * 7 + len) & 1023;
    const hit = NAMES[h];
    if (hit !== undefined && hit.length === len && s.startsWith(hit, start)) return hit;
    const name = s.slice(start, end);
    NAMES[h] = name;
    return name;
  }

  /** Reads a reference at `&` and returns the text it stands for. */
  protected reference(): string {
    const s = this.s;
    const amp = this.i;
    let i = amp + 1;
    if (s.charCodeAt(i) === 0x23 /* # */) {
      i++;
      const hex = s.charCodeAt(i) === 0x78; /* x */
      if (hex) i++;
      const digits = i;
      let cp = 0;
      for (;;) {
        const c = s.charCodeAt(i);
        let d: number;
        if (c >= 0x30 && c <= 0x39) d = c - 0x30;
        else if (hex && c >= 0x61 && c <= 0x66) d = c - 0x57;
        else if (hex && c >= 0x41 && c <= 0x46) d = c - 0x37;
        else break;
        // clamp so a long run of digits cannot overflow into a legal value
        cp = cp > 0x10ffff ? cp : cp * (hex ? 16 : 10) + d;
        i++;
      }
      if (i === digits) this.fail(`character reference without ${hex ? 'hexadecimal ' : ''}digits`, i);
      if (s.charCodeAt(i) !== 0x3b) this.fail("character reference not closed by ';'", i);
      if (!isXmlCodePoint(cp))
        this.fail(
          `character reference to ${cp > 0x10ffff ? 'a value beyond U+10FFFF' : codeName(cp)}, which is not an XML character`,
          amp,
        );
      this.i = i + 1;
      return String.fromCodePoint(cp);
    }
    // the five predefined entities, which need no declaration
    let value: string | undefined;
    let len = 0;
    const c = s.charCodeAt(i);
    if (c === 0x6c && s.startsWith('lt;', i)) [value, len] = ['<', 3];
    else if (c === 0x67 && s.startsWith('gt;', i)) [value, len] = ['>', 3];
    else if (c === 0x61 && s.startsWith('amp;', i)) [value, len] = ['&', 4];
    else if (c === 0x61 && s.startsWith('apos;', i)) [value, len] = ["'", 5];
    else if (c === 0x71 && s.startsWith('quot;', i)) [value, len] = ['"', 5];
    if (value !== undefined) {
      this.i = i + len;
      return value;
    }
    this.i = i;
    const name = this.qname("an entity name after '&' (a bare '&' must be written &amp;)");
    if (s.charCodeAt(this.i) !== 0x3b) this.fail(`reference to '${name}' not closed by ';'`, this.i);
    this.fail(`entity '${name}' is not defined (only lt, gt, amp, apos and quot exist without a DTD)`, amp);
  }

  /**
   * Reads the body of a comment, CDATA section or PI up to its terminator
   * (`-->`, `]]>`, `?>`), checking every character and normalising line
   * ends; returns the body and leaves the offset after the terminator.
   */
  protected rawRun(kind: number, open: number): string {
    const s = this.s;
    // first code unit of the terminator, the only one that needs a second look
    const stop = kind === RUN_COMMENT ? 0x2d : kind === RUN_CDATA ? 0x5d : 0x3f;
    let i = this.i;
    let seg = i;
    let buf = '';
    for (;;) {
      const c = s.charCodeAt(i);
      if (c >= 0x20 && c < 0xd800 && c !== stop) {
        i++;
        continue;
      }
      if (c === stop) {
        if (kind === RUN_COMMENT) {
          if (s.charCodeAt(i + 1) === 0x2d) {
            if (s.charCodeAt(i + 2) !== 0x3e) this.fail("'--' is not allowed inside a comment", i);
            break;
          }
        } else if (kind === RUN_CDATA) {
          if (s.charCodeAt(i + 1) === 0x5d && s.charCodeAt(i + 2) === 0x3e) break;
        } else if (s.charCodeAt(i + 1) === 0x3e) break;
        i++;
      } else if (c === 0x0a) {
        i++;
        this.line++;
        this.lineStart = i;
      } else if (c === 0x09) i++;
      else if (c === 0x0d) {
        buf += `${s.slice(seg, i)}\n`;
        i = this.afterCr(i);
        seg = i;
      } else if (i >= this.n) {
        this.fail(`${RUN_NAMES[kind]} is not closed`, open);
      } else i = this.checkChar(i);
    }
    const value = buf + s.slice(seg, i);
    if (value.length > this.limits.maxTextLength)
      this.refuse(
        `${RUN_NAMES[kind]} longer than the limit of ${this.limits.maxTextLength} characters`,
        open,
      );
    this.i = i + (kind === RUN_PI ? 2 : 3);
    return value;
  }

  /**
   * Offset after a carriage return at `i` (and its line feed, if any). As in
   * libxml2, only a line feed counts a line: a lone CR becomes a line feed in
   * the text but not a new line number.
   */
  protected afterCr(i: number): number {
    if (this.s.charCodeAt(i + 1) !== 0x0a) return i + 1;
    this.line++;
    this.lineStart = i + 2;
    return i + 2;
  }

  /**
   * The slow path of every character loop: code unit `i` is below U+0020
   * (and not tab, line feed or carriage return) or at or above U+D800.
   * Returns the offset after the character, or fails.
   */
  protected checkChar(i: number): number {
    const s = this.s;
    const c = s.charCodeAt(i);
    if (c < 0x20) this.fail(`character ${codeName(c)} is not allowed in XML`, i);
    if (c < 0xdc00) {
      if (c >= 0xd800 && isLowSurrogate(s.charCodeAt(i + 1))) return i + 2;
      if (c >= 0xd800) this.fail(`unpaired surrogate ${codeName(c)} is not a character`, i);
      return i + 1;
    }
    if (c < 0xe000) this.fail(`unpaired surrogate ${codeName(c)} is not a character`, i);
    if (c >= 0xfffe) this.fail(`character ${codeName(c)} is not allowed in XML`, i);
    return i + 1;
  }
}

/** 1-based line and column of `at`, counting line feeds as libxml2 does. */
export function positionOf(s: string, at: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < at; k++) {
    if (s.charCodeAt(k) === 0x0a) {
      line++;
      lineStart = k + 1;
    }
  }
  return { line, column: at - lineStart + 1 };
}

/** A short description of what stands at `i`, for messages. */
export function describeAt(s: string, i: number): string {
  if (i >= s.length) return 'the end of the document';
  const c = s.charCodeAt(i);
  if (c < 0x20 || c >= 0x7f) return codeName(c);
  return `'${s[i]}'`;
}

export { isSpace };
