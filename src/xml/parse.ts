/**
 * Hardened XML parsing.
 *
 * Libvirt documents come from users, other tools and remote daemons, so the
 * parser refuses everything a plain DOM parser would let through: DOCTYPEs
 * (and with them entity declarations and external references), documents
 * over a size limit, nesting deeper than a limit, and anything xmldom would
 * otherwise "repair" with a warning. The size and depth limits are checked by
 * a linear pre-scan before xmldom allocates anything, so a hostile document
 * costs time proportional to its length and no more memory than its text.
 *
 * @module
 */
import { DOMParser, onWarningStopParsing } from '@xmldom/xmldom';
import { VirError } from '../errors.js';
import type { XmlAttr, XmlElement } from './tree.js';

export interface ParseXmlOptions {
  /** Maximum document length in characters. Default 16 MiB. */
  maxSize?: number;
  /** Maximum element nesting depth. Default 256. */
  maxDepth?: number;
  /**
   * Keep whitespace-only text between elements. By default it is dropped
   * wherever a parent also has element children: that whitespace is
   * indentation, which the serializer writes afresh.
   */
  keepWhitespace?: boolean;
  /** Name used in error messages, e.g. a file name. */
  source?: string;
}

export const DEFAULT_MAX_SIZE = 16 * 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 256;

/** Minimal view of the DOM nodes xmldom gives us (its own types are loose). */
interface DomNode {
  nodeType: number;
  nodeName: string;
  nodeValue: string | null;
  childNodes: ArrayLike<DomNode>;
  attributes?: ArrayLike<{ name: string; value: string }>;
  lineNumber?: number;
  columnNumber?: number;
  data?: string;
  target?: string;
}

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;
const PROCESSING_INSTRUCTION_NODE = 7;
const COMMENT_NODE = 8;
const DOCUMENT_TYPE_NODE = 10;

/**
 * Parses a document and returns its root element. Throws `XML_ERROR` with the
 * line and column at fault for anything malformed or refused.
 */
export function parseXml(input: string, options: ParseXmlOptions = {}): XmlElement {
  if (typeof input !== 'string') {
    throw new VirError('INVALID_ARG', 'xml', 'XML input must be a string');
  }
  const maxSize = options.maxSize ?? DEFAULT_MAX_SIZE;
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const where = options.source ? `${options.source}: ` : '';
  if (input.length > maxSize) {
    throw new VirError(
      'XML_ERROR',
      'xml',
      `${where}document of ${input.length} characters exceeds the limit of ${maxSize}`,
      {
        line: 1,
        column: 1,
      },
    );
  }
  prescan(input, maxDepth, where);

  let doc: { childNodes: ArrayLike<DomNode>; doctype?: DomNode | null };
  try {
    const parser = new DOMParser({
      locator: true,
      onError: onWarningStopParsing,
      // Only \r handling: xmldom's default also rewrites U+0085/U+2028/U+2029,
      // which would change legal text on a round trip.
      normalizeLineEndings: (s: string) => s.replace(/\r\n?/g, '\n'),
    });
    doc = parser.parseFromString(input, 'text/xml') as unknown as typeof doc;
  } catch (err) {
    throw fromXmldomError(err, where);
  }
  let root: DomNode | undefined;
  for (let i = 0; i < doc.childNodes.length; i++) {
    const n = doc.childNodes[i]!;
    if (n.nodeType === DOCUMENT_TYPE_NODE) {
      throw refusedDoctype(n, where);
    }
    if (n.nodeType === ELEMENT_NODE) root = n;
  }
  if (!root)
    throw new VirError('XML_ERROR', 'xml', `${where}document has no root element`, { line: 1, column: 1 });
  return convertElement(root, options.keepWhitespace === true);
}

function refusedDoctype(n: DomNode, where: string): VirError {
  return new VirError('XML_ERROR', 'xml', `${where}DOCTYPE declarations are not allowed`, {
    line: n.lineNumber ?? 1,
    column: n.columnNumber ?? 1,
  });
}

function fromXmldomError(err: unknown, where: string): VirError {
  if (err instanceof VirError) return err;
  const e = err as { message?: unknown; locator?: { lineNumber?: number; columnNumber?: number } };
  const raw = typeof e.message === 'string' ? e.message : String(err);
  // xmldom appends "@#[line:..,col:..]" and a "[xmldom warning]" prefix; keep just the reason.
  const reason = raw
    .replace(/\n?@#\[line:\d+,col:\d+\]/g, '')
    .replace(/^\[xmldom [a-z ]+\]\s*/i, '')
    .split('\n')[0]!
    .trim();
  const details: { line?: number; column?: number; cause: unknown } = { cause: err };
  if (e.locator?.lineNumber !== undefined) details.line = e.locator.lineNumber;
  if (e.locator?.columnNumber !== undefined) details.column = e.locator.columnNumber;
  const at = details.line !== undefined ? ` at line ${details.line}` : '';
  return new VirError('XML_ERROR', 'xml', `${where}malformed XML${at}: ${reason || 'parse error'}`, details);
}

function convertElement(node: DomNode, keepWhitespace: boolean): XmlElement {
  const attrs: XmlAttr[] = [];
  const domAttrs = node.attributes;
  if (domAttrs)
    for (let i = 0; i < domAttrs.length; i++) {
      const a = domAttrs[i]!;
      attrs.push({ name: a.name, value: a.value });
    }
  const el: XmlElement = { type: 'element', name: node.nodeName, attrs, children: [] };
  if (node.lineNumber !== undefined) el.line = node.lineNumber;
  if (node.columnNumber !== undefined) el.column = node.columnNumber;
  const kids = node.childNodes;
  let hasElementChild = false;
  for (let i = 0; i < kids.length; i++) if (kids[i]!.nodeType === ELEMENT_NODE) hasElementChild = true;
  for (let i = 0; i < kids.length; i++) {
    const c = kids[i]!;
    switch (c.nodeType) {
      case ELEMENT_NODE:
        el.children.push(convertElement(c, keepWhitespace));
        break;
      case TEXT_NODE: {
        const value = c.nodeValue ?? '';
        if (!keepWhitespace && hasElementChild && /^[ \t\n\r]*$/.test(value)) break;
        const last = el.children[el.children.length - 1];
        if (last?.type === 'text') last.value += value;
        else el.children.push({ type: 'text', value });
        break;
      }
      case CDATA_SECTION_NODE:
        el.children.push({ type: 'cdata', value: c.nodeValue ?? '' });
        break;
      case COMMENT_NODE:
        el.children.push({ type: 'comment', value: c.nodeValue ?? '' });
        break;
      case PROCESSING_INSTRUCTION_NODE:
        el.children.push({ type: 'pi', target: c.target ?? c.nodeName, value: c.data ?? c.nodeValue ?? '' });
        break;
      default:
        // Entity references cannot occur (no DOCTYPE, so no entities to refer to).
        break;
    }
  }
  return el;
}

/**
 * Linear scan enforcing the depth limit and refusing DOCTYPE/ENTITY before
 * the DOM is built. It understands comments, CDATA, processing instructions
 * and quoted attribute values; anything it cannot classify is left for
 * xmldom to reject with its own message.
 */
function prescan(s: string, maxDepth: number, where: string): void {
  let depth = 0;
  const n = s.length;
  let i = s.indexOf('<');
  while (i >= 0 && i < n) {
    const next = s.charCodeAt(i + 1);
    if (next === 0x2f /* / */) {
      depth--;
      i = s.indexOf('<', i + 2);
      continue;
    }
    if (next === 0x21 /* ! */) {
      if (s.startsWith('<!--', i)) {
        const end = s.indexOf('-->', i + 4);
        if (end < 0) return; // unterminated: xmldom reports it with a position
        i = s.indexOf('<', end + 3);
        continue;
      }
      if (s.startsWith('<![CDATA[', i)) {
        const end = s.indexOf(']]>', i + 9);
        if (end < 0) return;
        i = s.indexOf('<', end + 3);
        continue;
      }
      if (s.startsWith('<!DOCTYPE', i) || s.startsWith('<!ENTITY', i)) {
        const { line, column } = position(s, i);
        throw new VirError(
          'XML_ERROR',
          'xml',
          `${where}DOCTYPE and ENTITY declarations are not allowed (line ${line})`,
          {
            line,
            column,
          },
        );
      }
      return;
    }
    if (next === 0x3f /* ? */) {
      const end = s.indexOf('?>', i + 2);
      if (end < 0) return;
      i = s.indexOf('<', end + 2);
      continue;
    }
    // A start tag: find its end, skipping quoted attribute values.
    let j = i + 1;
    let quote = 0;
    for (; j < n; j++) {
      const c = s.charCodeAt(j);
      if (quote !== 0) {
        if (c === quote) quote = 0;
      } else if (c === 0x22 || c === 0x27) {
        quote = c;
      } else if (c === 0x3e /* > */) {
        break;
      }
    }
    if (j >= n) return;
    if (s.charCodeAt(j - 1) !== 0x2f /* self-closing */) {
      depth++;
      if (depth > maxDepth) {
        const { line, column } = position(s, i);
        throw new VirError(
          'XML_ERROR',
          'xml',
          `${where}elements nested deeper than the limit of ${maxDepth} (line ${line})`,
          {
            line,
            column,
          },
        );
      }
    }
    i = s.indexOf('<', j + 1);
  }
}

/** 1-based line and column of offset `at`. */
function position(s: string, at: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = s.indexOf('\n'); k >= 0 && k < at; k = s.indexOf('\n', k + 1)) {
    line++;
    lineStart = k + 1;
  }
  return { line, column: at - lineStart + 1 };
}
