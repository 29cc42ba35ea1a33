/**
 * The lightweight XML tree every model and mapper works on.
 *
 * We keep our own small tree instead of handing out DOM nodes: it is plain
 * data (cheap to clone, easy to compare, the same in Node and browsers), it
 * keeps attribute order and source positions, and it holds exactly what a
 * libvirt document can contain once DOCTYPEs are refused.
 *
 * @module
 */

/** One attribute, in the order it was written. */
export interface XmlAttr {
  /** Qualified name as written, e.g. `policy` or `xmlns:foo`. */
  name: string;
  /** The value with entities and character references decoded. */
  value: string;
}

/** An element: its name, attributes in order, and children. */
export interface XmlElement {
  /** Tells the node kinds apart. */
  readonly type: 'element';
  /** Qualified name as written, e.g. `domain` or `qemu:commandline`. */
  name: string;
  /** Attributes in source order (the serializer keeps it). */
  attrs: XmlAttr[];
  /** Child nodes in document order. */
  children: XmlNode[];
  /**
   * 1-based source line of the start tag, when parsed from text: the line
   * the tag ends on, as libxml2 (and so libvirt's messages) numbers it.
   */
  line?: number;
  /** 1-based source column of the start tag's `<`, when parsed from text. */
  column?: number;
  /** `libxml`: this subtree is written the way libxml2 dumps a node (double quotes, its escapes). */
  style?: 'libxml';
}

/** Character data, decoded. */
export interface XmlText {
  /** Tells the node kinds apart. */
  readonly type: 'text';
  /** The text with entities and character references decoded. */
  value: string;
  /** Where it starts, when parsed from text (not an own enumerable property). */
  readonly line?: number;
  /** The column where it starts, when parsed from text. */
  readonly column?: number;
}

/** A CDATA section, kept as one so it is written back as one. */
export interface XmlCData {
  /** Tells the node kinds apart. */
  readonly type: 'cdata';
  /** The section's content, verbatim. */
  value: string;
  /** Where it starts, when parsed from text (not an own enumerable property). */
  readonly line?: number;
  /** The column where it starts, when parsed from text. */
  readonly column?: number;
}

/** A comment, kept so a definition keeps its notes through an edit. */
export interface XmlComment {
  /** Tells the node kinds apart. */
  readonly type: 'comment';
  /** The comment text between `<!--` and `-->`. */
  value: string;
  /** Where it starts, when parsed from text (not an own enumerable property). */
  readonly line?: number;
  /** The column where it starts, when parsed from text. */
  readonly column?: number;
}

/** A processing instruction other than the XML declaration. */
export interface XmlProcessingInstruction {
  /** Tells the node kinds apart. */
  readonly type: 'pi';
  /** The name after `<?`. */
  target: string;
  /** Everything after the target, up to `?>`. */
  value: string;
  /** Where it starts, when parsed from text (not an own enumerable property). */
  readonly line?: number;
  /** The column where it starts, when parsed from text. */
  readonly column?: number;
}

/** Any node of the tree; switch on `type`. */
export type XmlNode = XmlElement | XmlText | XmlCData | XmlComment | XmlProcessingInstruction;

/** A new element, for building documents in code. */
export function element(name: string, attrs: XmlAttr[] = [], children: XmlNode[] = []): XmlElement {
  return { type: 'element', name, attrs, children };
}

/** A new text node; the serializer escapes it. */
export function text(value: string): XmlText {
  return { type: 'text', value };
}

/** Whether a node is an element (a type guard, for walking children). */
export function isElement(node: XmlNode | undefined): node is XmlElement {
  return node !== undefined && node.type === 'element';
}

/** Value of attribute `name`, or undefined. */
export function getAttr(el: XmlElement, name: string): string | undefined {
  for (const a of el.attrs) if (a.name === name) return a.value;
  return undefined;
}

/** Sets (or, with `undefined`, removes) an attribute, keeping its position when it exists. */
export function setAttr(el: XmlElement, name: string, value: string | undefined): void {
  const i = el.attrs.findIndex((a) => a.name === name);
  if (value === undefined) {
    if (i >= 0) el.attrs.splice(i, 1);
  } else if (i >= 0) {
    el.attrs[i]!.value = value;
  } else {
    el.attrs.push({ name, value });
  }
}

/** Element children, optionally only those called `name`. */
export function childElements(el: XmlElement, name?: string): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children)
    if (c.type === 'element' && (name === undefined || c.name === name)) out.push(c);
  return out;
}

/** First element child called `name`. */
export function firstChild(el: XmlElement, name: string): XmlElement | undefined {
  for (const c of el.children) if (c.type === 'element' && c.name === name) return c;
  return undefined;
}

/** Concatenated text and CDATA content of an element (not of its descendants). */
export function textContent(el: XmlElement): string {
  let out = '';
  for (const c of el.children) if (c.type === 'text' || c.type === 'cdata') out += c.value;
  return out;
}

/** Deep copy of a node. */
export function cloneNode<T extends XmlNode>(node: T): T {
  if (node.type !== 'element') return { ...node };
  const el: XmlElement = {
    type: 'element',
    name: node.name,
    attrs: node.attrs.map((a) => ({ name: a.name, value: a.value })),
    children: node.children.map((c) => cloneNode(c)),
  };
  if (node.line !== undefined) el.line = node.line;
  if (node.column !== undefined) el.column = node.column;
  if (node.style !== undefined) el.style = node.style;
  return el as T;
}

/** Local part of a qualified name (`qemu:commandline` -> `commandline`). */
export function localName(name: string): string {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(i + 1);
}
