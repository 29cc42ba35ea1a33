/**
 * Differential checking of our parser against libxml2 (libxml2-wasm, default
 * options: no DTD loading, no entity substitution beyond the predefined
 * ones). Both trees are reduced to one canonical string so that a mismatch
 * can be shown as text. Shared by test/xml/differential.test.ts and the
 * full fuzz run in bench/xml-fuzz.ts.
 */
import * as lib from 'libxml2-wasm';
import { VirError } from '../../src/errors.js';
import { parseXml } from '../../src/xml/parse.js';
import type { XmlElement, XmlNode } from '../../src/xml/tree.js';

type Lib = typeof lib;
type LibNode = InstanceType<Lib['XmlNode']>;

// PIs are not tree nodes in libxml2-wasm's typings, but the getters work on any node pointer.
const nextOf = Object.getOwnPropertyDescriptor(lib.XmlTreeNode.prototype, 'next')!.get! as (
  this: LibNode,
) => LibNode | null;
const nameOf = Object.getOwnPropertyDescriptor(lib.XmlEntityReference.prototype, 'name')!.get! as (
  this: LibNode,
) => string;

/**
 * libxml2-wasm reads strings back through TextDecoder, which drops a leading
 * U+FEFF in some values (libxml2 itself keeps it): compare without one.
 */
function v(s: string): string {
  return JSON.stringify(s.charCodeAt(0) === 0xfeff ? s.slice(1) : s);
}

export interface Verdict {
  /** Canonical tree, or undefined when the parser refused the document. */
  tree?: string;
  error?: string;
  line?: number;
}

export function libxml2Verdict(xml: string): Verdict {
  let doc: InstanceType<Lib['XmlDocument']>;
  try {
    doc = lib.XmlDocument.fromString(xml);
  } catch (err) {
    return { error: err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err) };
  }
  try {
    return { tree: canonLib(doc.root) };
  } finally {
    doc.dispose();
  }
}

/** Ours; a non-VirError exception is rethrown (that is a bug the callers count). */
export function oursVerdict(xml: string): Verdict {
  try {
    return { tree: canonOurs(parseXml(xml, { keepWhitespace: true })) };
  } catch (err) {
    if (!(err instanceof VirError)) throw err;
    const v: Verdict = { error: err.message };
    if (err.line !== undefined) v.line = err.line;
    return v;
  }
}

export interface Comparison {
  agree: boolean;
  /** Why a disagreement is expected by design (DOCTYPE refusal), if it is. */
  excused?: string;
  ours: Verdict;
  libxml2: Verdict;
}

export function compare(xml: string): Comparison {
  const ours = oursVerdict(xml);
  const libxml2 = libxml2Verdict(xml);
  const agree = ours.tree === libxml2.tree && (ours.tree !== undefined || libxml2.tree === undefined);
  const result: Comparison = { agree, ours, libxml2 };
  if (!agree && ours.tree === undefined && /DOCTYPE/.test(ours.error ?? ''))
    result.excused = 'DOCTYPE refused';
  // a declared single-byte encoding makes libxml2 re-read our UTF-8 as that encoding
  if (!agree && /encoding=["'](?!utf-?8)/i.test(xml) && /[\u0080-\uffff]/.test(xml))
    result.excused = 'non-UTF-8 encoding declared';
  return result;
}

function canonOurs(el: XmlElement): string {
  const attrs: string[] = [];
  const ns: string[] = [];
  for (const a of el.attrs) {
    if (a.name === 'xmlns' || a.name.startsWith('xmlns:')) ns.push(`${a.name.slice(6)}=${a.value}`);
    else attrs.push(`${a.name}=${v(a.value)}`);
  }
  ns.sort();
  const kids = mergeText(el.children).map((c) =>
    c.type === 'element' ? canonOurs(c) : canonLeaf(c.type, c.type === 'pi' ? c.target : '', c.value),
  );
  return `<${el.name}@${el.line} ${attrs.join(' ')} {${ns.join(' ')}}>${kids.join('')}</>`;
}

/** libxml2 merges adjacent text; so do we, but compare merged to be safe. */
function mergeText(children: XmlNode[]): XmlNode[] {
  const out: XmlNode[] = [];
  for (const c of children) {
    const last = out[out.length - 1];
    if (c.type === 'text' && last?.type === 'text')
      out[out.length - 1] = { type: 'text', value: last.value + c.value };
    else out.push(c);
  }
  return out;
}

function canonLeaf(kind: string, target: string, value: string): string {
  return `[${kind}${target ? ` ${target}` : ''} ${v(value)}]`;
}

function canonLib(el: InstanceType<Lib['XmlElement']>): string {
  const qn = (n: { name: string; prefix: string }) => (n.prefix ? `${n.prefix}:${n.name}` : n.name);
  const attrs = el.attrs.map((a) => `${qn(a as unknown as { name: string; prefix: string })}=${v(a.value)}`);
  const ns = Object.entries(el.localNamespaces).map(([p, u]) => `${p}=${u}`);
  ns.sort();
  const kids: string[] = [];
  let pending: string | undefined;
  const flush = () => {
    if (pending !== undefined) kids.push(canonLeaf('text', '', pending));
    pending = undefined;
  };
  for (let c: LibNode | null = el.firstChild; c; c = nextOf.call(c)) {
    if (c instanceof lib.XmlText) {
      pending = (pending ?? '') + c.content;
      continue;
    }
    flush();
    if (c instanceof lib.XmlElement) kids.push(canonLib(c));
    else if (c instanceof lib.XmlCData) kids.push(canonLeaf('cdata', '', c.content));
    else if (c instanceof lib.XmlComment) kids.push(canonLeaf('comment', '', c.content));
    else if (c.constructor.name === 'XmlProcessingInstructionNode')
      kids.push(canonLeaf('pi', nameOf.call(c), c.content));
    else kids.push(`[? ${c.constructor.name}]`);
  }
  flush();
  return `<${qn(el)}@${el.line} ${attrs.join(' ')} {${ns.join(' ')}}>${kids.join('')}</>`;
}
