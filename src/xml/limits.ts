/**
 * Parser limits and their defaults. Every limit is checked while the parser
 * reads, at the point where it is crossed, so a hostile document is refused
 * before it costs more than its own text.
 *
 * @module
 */

export interface XmlLimits {
  /** Maximum document length in characters (UTF-16 code units). */
  maxSize: number;
  /** Maximum element nesting depth (the root is at depth 1). */
  maxDepth: number;
  /** Maximum nodes in the tree: elements, text, CDATA, comments and PIs. */
  maxNodes: number;
  /** Maximum attributes on one element, namespace declarations included. */
  maxAttributes: number;
  /** Maximum length of an element, attribute, PI or entity name. */
  maxNameLength: number;
  /** Maximum length of one text node, CDATA section, comment, PI or attribute value. */
  maxTextLength: number;
}

/** The largest document `parseXml` accepts by default, in characters (16 MiB). */
export const DEFAULT_MAX_SIZE = 16 * 1024 * 1024;
/** The deepest element nesting `parseXml` accepts by default. */
export const DEFAULT_MAX_DEPTH = 256;
export const DEFAULT_MAX_NODES = 1_000_000;
export const DEFAULT_MAX_ATTRIBUTES = 1024;
/** libxml2's own limit on names when it is not in "huge" mode. */
export const DEFAULT_MAX_NAME_LENGTH = 50_000;
/** libxml2's own limit on a text node or attribute value outside "huge" mode. */
export const DEFAULT_MAX_TEXT_LENGTH = 10_000_000;

export function resolveLimits(options: Partial<XmlLimits>): XmlLimits {
  return {
    maxSize: options.maxSize ?? DEFAULT_MAX_SIZE,
    maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
    maxNodes: options.maxNodes ?? DEFAULT_MAX_NODES,
    maxAttributes: options.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES,
    maxNameLength: options.maxNameLength ?? DEFAULT_MAX_NAME_LENGTH,
    maxTextLength: options.maxTextLength ?? DEFAULT_MAX_TEXT_LENGTH,
  };
}
