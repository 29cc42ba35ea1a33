/**
 * The causes libxml2's RelaxNG validator leaves out.
 *
 * Inside an `<interleave>` libxml2 tries each branch, drops the errors of the
 * branches that failed and reports only "Extra element X in interleave". To
 * say what is wrong with X, we validate X on its own against the schema's
 * pattern for X: a small grammar that includes the document's schema (so
 * every define is there) and starts with that `<element>` pattern, taken
 * from the schema text. Where several patterns share X's name, the ones
 * nested in a pattern for X's parent are tried first.
 *
 * @module
 */
import { parseXml } from './parse.js';
import { SCHEMA_FILES } from './schemas.gen.js';
import { serializeXml } from './serialize.js';
import { getAttr, type XmlElement } from './tree.js';

type Libxml2 = typeof import('libxml2-wasm');
type LibElement = InstanceType<Libxml2['XmlElement']>;
type LibNode = InstanceType<Libxml2['XmlNode']>;

/** libxml2's element tree reduced to what locating an error needs. */
export interface LibTree {
  /** Qualified name. */
  name: string;
  line: number;
  parent?: LibTree;
  children: LibTree[];
  node: LibElement;
}

export interface Cause {
  line: number;
  message: string;
  path?: string;
}

/** Builds the element tree of a libxml2 document (on the error path only). */
export function libTree(lib: Libxml2, root: LibElement): LibTree {
  // a PI is not a tree node in libxml2-wasm's classes, but the sibling getter works on any node
  const next = Object.getOwnPropertyDescriptor(lib.XmlTreeNode.prototype, 'next')?.get as
    | ((this: LibNode) => LibNode | null)
    | undefined;
  const build = (el: LibElement, parent?: LibTree): LibTree => {
    const t: LibTree = {
      name: el.prefix ? `${el.prefix}:${el.name}` : el.name,
      line: el.line,
      children: [],
      node: el,
    };
    if (parent) t.parent = parent;
    for (let c: LibNode | null = el.firstChild; c && next; c = next.call(c))
      if (c instanceof lib.XmlElement) t.children.push(build(c, t));
    return t;
  };
  return build(root);
}

interface Pattern {
  id: number;
  /** The nearest enclosing `<element>` pattern's name, if any. */
  parent?: string;
  text: string;
}

let patterns: Map<string, Pattern[]> | undefined;

/** Every `<element name="…">` pattern of every schema file, by name. */
function patternIndex(): Map<string, Pattern[]> {
  if (patterns) return patterns;
  patterns = new Map();
  let id = 0;
  for (const text of Object.values(SCHEMA_FILES) as string[]) {
    const walk = (el: XmlElement, parent: string | undefined) => {
      let inner = parent;
      if (el.name === 'element') {
        const name = getAttr(el, 'name');
        if (name) {
          const p: Pattern = { id: id++, text: serializeXml(el) };
          if (parent !== undefined) p.parent = parent;
          const list = patterns!.get(name) ?? [];
          list.push(p);
          patterns!.set(name, list);
          inner = name;
        }
      }
      for (const c of el.children) if (c.type === 'element') walk(c, inner);
    };
    walk(parseXml(text), undefined);
  }
  return patterns;
}

interface Validator {
  validate(doc: unknown): void;
}
const validators = new Map<string, Validator | null>();

function validatorFor(lib: Libxml2, rootFile: string, baseUrl: string, p: Pattern): Validator | null {
  const key = `${rootFile}#${p.id}`;
  let v = validators.get(key);
  if (v !== undefined) return v;
  const grammar = `<grammar xmlns="http://relaxng.org/ns/structure/1.0" datatypeLibrary="http://www.w3.org/2001/XMLSchema-datatypes"><include href="${baseUrl}${rootFile}"><start>${p.text}</start></include></grammar>`;
  try {
    const doc = lib.XmlDocument.fromString(grammar, { url: `${baseUrl}detail-${p.id}.rng` });
    try {
      v = lib.RelaxNGValidator.fromDoc(doc);
    } finally {
      doc.dispose();
    }
  } catch {
    v = null; // a pattern that only makes sense in its context: not a candidate
  }
  validators.set(key, v);
  return v;
}

/** What is wrong with `el` by itself, lines mapped back into the document. */
export async function innerCauses(
  lib: Libxml2,
  _kind: string,
  rootFile: string,
  baseUrl: string,
  el: LibTree,
  depth = 0,
): Promise<Cause[]> {
  const candidates = patternIndex().get(el.name) ?? [];
  const parentName = el.parent?.name;
  const ordered = [
    ...candidates.filter((p) => p.parent === parentName),
    ...candidates.filter((p) => p.parent !== parentName),
  ].slice(0, 8);
  const text = el.node.toString({ format: false, noDeclaration: true });
  for (const p of ordered) {
    const v = validatorFor(lib, rootFile, baseUrl, p);
    if (!v) continue;
    const doc = lib.XmlDocument.fromString(text);
    const found: Cause[] = [];
    try {
      v.validate(doc);
      continue; // this pattern accepts it: the trouble is elsewhere
    } catch (err) {
      const list = (err as { details?: Array<{ message: string; line?: number }> }).details ?? [];
      for (const d of list) {
        const message = d.message.trim();
        const line = d.line !== undefined && d.line > 0 ? el.line + d.line - 1 : el.line;
        const nested = /^Extra element (\S+) in interleave/.exec(message)?.[1];
        if (nested && depth < 4) {
          const child = findByLine(el, nested, line);
          if (child) found.push(...(await innerCauses(lib, _kind, rootFile, baseUrl, child, depth + 1)));
        }
        if (!/^(?:Extra element \S+ in interleave|Element \S+ failed to validate content)$/.test(message))
          found.push({ line, message, path: /^Element (\S+)/.exec(message)?.[1] ?? el.name });
      }
    } finally {
      doc.dispose();
    }
    if (found.length > 0) return found;
  }
  return [];
}

function findByLine(root: LibTree, name: string, line: number): LibTree | undefined {
  const queue = [...root.children];
  for (let i = 0; i < queue.length; i++) {
    const t = queue[i]!;
    if (t.name === name && t.line === line) return t;
    queue.push(...t.children);
  }
  return undefined;
}
