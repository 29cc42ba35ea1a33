/**
 * `virtkit/xml`: hardened parsing, libvirt-style serialization, semantic
 * comparison and RelaxNG validation. No Node-only imports: runs in browsers.
 *
 * @module
 */
export { type XmlEqualOptions, xmlDiff, xmlEqual } from './equal.js';
export { DEFAULT_MAX_DEPTH, DEFAULT_MAX_SIZE, type ParseXmlOptions, parseXml } from './parse.js';
export { escapeAttr, escapeText, type SerializeOptions, serializeXml } from './serialize.js';
export * from './tree.js';
export {
  assertValid,
  SCHEMA_KINDS,
  type SchemaKind,
  type ValidationIssue,
  type ValidationResult,
  validate,
} from './validate.js';
