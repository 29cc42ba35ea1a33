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

/** Text, CDATA and comment nodes: one shape, the kind in `type`. */
class ParsedValue extends Positioned {
  readonly type: 'text' | 'cdata' | 'comment';
  value: string;
  constructor(type: 'text' | 'cdata' | 'comment', value: string, line: number, column: number) {
    super(line, column);
    this.type = type;
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
  return new ParsedValue('text', value, line, column) as XmlText;
}

export function parsedCData(value: string, line: number, column: number): XmlCData {
  return new ParsedValue('cdata', value, line, column) as XmlCData;
}

export function parsedComment(value: string, line: number, column: number): XmlComment {
  return new ParsedValue('comment', value, line, column) as XmlComment;
}

export function parsedPi(
  target: string,
  value: string,
  line: number,
  column: number,
): XmlProcessingInstruction {
  return new ParsedPi(target, value, line, column);
}
