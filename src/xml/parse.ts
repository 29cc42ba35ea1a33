/**
 * Hardened XML parsing: the public entry point to virtkit's own parser.
 *
 * Libvirt documents come from users, other tools and remote daemons, so the
 * parser accepts exactly well-formed, namespace-well-formed XML 1.0 (what
 * libxml2, and so libvirt, accepts) and refuses DOCTYPEs outright (and with
 * them entity declarations and external references) and anything past the
 * limits below. It reads the string once, front to back, and builds the
 * tree as it goes: time is linear in the input and the only memory that
 * grows with it is the tree.
 *
 * @module
 */
import { VirError } from '../errors.js';
import { resolveLimits, type XmlLimits } from './limits.js';
import { XmlParser } from './parser.js';
import type { XmlElement } from './tree.js';

export {
  DEFAULT_MAX_ATTRIBUTES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_NAME_LENGTH,
  DEFAULT_MAX_NODES,
  DEFAULT_MAX_SIZE,
  DEFAULT_MAX_TEXT_LENGTH,
  type XmlLimits,
} from './limits.js';

/** Limits and whitespace handling for `parseXml`; lower limits suit untrusted input. */
export interface ParseXmlOptions extends Partial<XmlLimits> {
  /**
   * Keep whitespace-only text between elements. By default it is dropped
   * wherever a parent also has element children: that whitespace is
   * indentation, which the serializer writes afresh.
   */
  keepWhitespace?: boolean;
  /** Name used in error messages, e.g. a file name. */
  source?: string;
}

/**
 * Parses a document and returns its root element. Throws `XML_ERROR` with the
 * line and column at fault for anything malformed or refused.
 */
export function parseXml(input: string, options: ParseXmlOptions = {}): XmlElement {
  if (typeof input !== 'string') {
    throw new VirError('INVALID_ARG', 'xml', 'XML input must be a string');
  }
  const limits = resolveLimits(options);
  const where = options.source ? `${options.source}: ` : '';
  if (input.length > limits.maxSize) {
    throw new VirError(
      'XML_ERROR',
      'xml',
      `${where}document of ${input.length} characters exceeds the limit of ${limits.maxSize}`,
      { line: 1, column: 1 },
    );
  }
  return new XmlParser(input, limits, where, options.keepWhitespace === true).parseDocument();
}
