/**
 * Namespace bindings in scope while parsing, and the rules a declaration
 * must follow (Namespaces in XML 1.0, as libxml2 enforces them).
 *
 * Bindings live in one map with an undo list, so entering and leaving an
 * element costs only its own declarations, however deep the document.
 *
 * @module
 */
import { isUriReference } from './uri.js';

export const XML_NS = 'http://www.w3.org/XML/1998/namespace';
export const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

export class NamespaceScope {
  /** Prefix to namespace name (the default namespace is never needed: our tree keeps qualified names). */
  private readonly ns = new Map<string, string>();
  /** prefix, previous value (undefined when it was unbound), ... */
  private readonly undo: Array<string | undefined> = [];

  /** Where to come back to when the element being read ends. */
  get mark(): number {
    return this.undo.length;
  }

  /** The namespace a prefix stands for, or undefined when it is not declared. */
  resolve(prefix: string): string | undefined {
    return prefix === 'xml' ? XML_NS : this.ns.get(prefix);
  }

  /** Checks an `xmlns='…'` declaration; returns what is wrong, if anything. */
  checkDefault(uri: string): string | undefined {
    if (uri === XML_NS || uri === XMLNS_NS) return `the namespace ${uri} cannot be the default namespace`;
    if (uri !== '' && !isUriReference(uri)) return `default namespace '${uri}' is not a URI reference`;
    return undefined;
  }

  /** Binds `prefix` (from `xmlns:prefix='uri'`), or returns what is wrong with the declaration. */
  declare(prefix: string, uri: string): string | undefined {
    if (prefix === 'xmlns') return 'the prefix xmlns cannot be declared';
    if (prefix === 'xml') return uri === XML_NS ? undefined : `the prefix xml can only be bound to ${XML_NS}`;
    if (uri === '') return `namespace prefix '${prefix}' cannot be bound to an empty name`;
    if (uri === XML_NS || uri === XMLNS_NS) return `the namespace ${uri} cannot be bound to '${prefix}'`;
    if (!isUriReference(uri)) return `namespace '${uri}' of prefix '${prefix}' is not a URI reference`;
    this.undo.push(prefix, this.ns.get(prefix));
    this.ns.set(prefix, uri);
    return undefined;
  }

  /** Drops the bindings made since `mark`. */
  unbind(mark: number): void {
    const undo = this.undo;
    while (undo.length > mark) {
      const prev = undo.pop();
      const prefix = undo.pop() as string;
      if (prev === undefined) this.ns.delete(prefix);
      else this.ns.set(prefix, prev);
    }
  }
}
