/**
 * Text, CDATA, comment and PI nodes as the parser makes them: the same
 * plain-looking objects as everywhere else (own enumerable `type` and
 * `value`, so they compare, clone and serialise like hand-built nodes), with
 * their source position in private fields read through `line` and `column`
 * getters. Keeping the position off the enumerable shape is what lets trees
 * built by hand and trees parsed from text stay equal.
 *
 * @module
 */
import type { XmlCData, XmlComment, XmlProcessingInstruction, XmlText } from './tree.js';

// own enumerable properties in the order a literal node has them: type first
abstract class Positioned {
  readonly #line: number;
  readonly #column: number;

  constructor(line: number, column: number) {
    this.#line = line;
    this.#column = column;
  }

  /** 1-based line where the node starts in the source. */
  get line(): number {
    return this.#line;
  }

  /** 1-based column where the node starts (its first character, or the `<` of its markup). */
  get column(): number {
    return this.#column;
  }
}

class ParsedText extends Positioned implements XmlText {
  readonly type = 'text';
  value: string;
  constructor(value: string, line: number, column: number) {
    super(line, column);
    this.value = value;
  }
}

class ParsedCData extends Positioned implements XmlCData {
  readonly type = 'cdata';
  value: string;
  constructor(value: string, line: number, column: number) {
    super(line, column);
    this.value = value;
  }
}

class ParsedComment extends Positioned implements XmlComment {
  readonly type = 'comment';
  value: string;
  constructor(value: string, line: number, column: number) {
    super(line, column);
    this.value = value;
  }
}

class ParsedPi extends Positioned implements XmlProcessingInstruction {
  readonly type = 'pi';
  target: string;
  value: string;
  constructor(target: string, value: string, line: number, column: number) {
    super(line, column);
    this.target = target;
    this.value = value;
  }
}

export function parsedText(value: string, line: number, column: number): XmlText {
  return new ParsedText(value, line, column);
}

export function parsedCData(value: string, line: number, column: number): XmlCData {
  return new ParsedCData(value, line, column);
}

export function parsedComment(value: string, line: number, column: number): XmlComment {
  return new ParsedComment(value, line, column);
}

export function parsedPi(
  target: string,
  value: string,
  line: number,
  column: number,
): XmlProcessingInstruction {
  return new ParsedPi(target, value, line, column);
}
