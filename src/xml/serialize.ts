/**
 * Serialization in libvirt's output style.
 *
 * libvirt formats documents with two-space indentation, attributes in single
 * quotes, empty elements self-closed, elements holding only text on one line,
 * and the five XML specials escaped in both text and attributes. Newlines,
 * carriage returns and tabs are escaped as character references in
 * attributes (a parser would otherwise normalise them to spaces) and carriage
 * returns in text, so a parse of our output gives back exactly the values we
 * were given. Matching the style byte for byte lets tests compare our output
 * with libvirt's expected files directly.
 *
 * @module
 */
import type { XmlElement, XmlNode } from './tree.js';

/** How `serializeXml` lays out its output. */
export interface SerializeOptions {
  /** Spaces per level. Default 2. */
  indent?: number;
  /** Start with `<?xml version="1.0"?>`. Default false, as libvirt does. */
  declaration?: boolean;
  /** End with a newline. Default true. */
  finalNewline?: boolean;
}

/**
 * Writes a tree as libvirt formats XML: two-space indentation, single-quoted attributes, `/>` for
 * empty elements, text escaped.
 */
export function serializeXml(root: XmlElement, options: SerializeOptions = {}): string {
  const unit = ' '.repeat(options.indent ?? 2);
  const out: string[] = [];
  if (options.declaration) out.push('<?xml version="1.0"?>\n');
  writeElement(root, '', unit, out);
  if (options.finalNewline !== false) out.push('\n');
  return out.join('');
}

function writeElement(el: XmlElement, pad: string, unit: string, out: string[], libxml = false): void {
  const dump = libxml || el.style === 'libxml';
  out.push(pad, '<', el.name);
  for (const a of el.attrs)
    if (dump) out.push(' ', a.name, '="', libxmlEscape(a.value, LIBXML_ATTR), '"');
    else out.push(' ', a.name, "='", escapeAttr(a.value), "'");
  const kids = el.children;
  if (kids.length === 0) {
    out.push('/>');
    return;
  }
  let hasElement = false;
  let hasText = false;
  for (const k of kids) {
    if (k.type === 'element') hasElement = true;
    else if ((k.type === 'text' || k.type === 'cdata') && k.value !== '') hasText = true;
  }
  out.push('>');
  if (!hasElement || hasText) {
    // Text-only or mixed content: indentation would change the text, so write it as is.
    for (const k of kids) writeInline(k, out, dump);
  } else {
    const inner = pad + unit;
    for (const k of kids) {
      out.push('\n');
      if (k.type === 'element') writeElement(k, inner, unit, out, dump);
      else {
        out.push(inner);
        writeInline(k, out, dump);
      }
    }
    out.push('\n', pad);
  }
  out.push('</', el.name, '>');
}

function writeInline(node: XmlNode, out: string[], libxml = false): void {
  switch (node.type) {
    case 'element':
      writeElement(node, '', '', out, libxml);
      // writeElement with an empty unit still breaks lines for element-only
      // content; mixed content is rare in libvirt XML and stays parseable.
      return;
    case 'text':
      out.push(libxml ? libxmlEscape(node.value, LIBXML_TEXT) : escapeText(node.value));
      return;
    case 'cdata':
      out.push('<![CDATA[', node.value.replace(/]]>/g, ']]]]><![CDATA[>'), ']]>');
      return;
    case 'comment':
      out.push('<!--', node.value, '-->');
      return;
    case 'pi':
      out.push('<?', node.target, node.value === '' ? '' : ` ${node.value}`, '?>');
      return;
  }
}

/** What libxml2 escapes in text and in attribute values. */
const LIBXML_TEXT = /[&<>\r]/g;
const LIBXML_ATTR = /[&<>"\n\r\t]/g;

function libxmlEscape(value: string, specials: RegExp): string {
  return value.replace(specials, (c) =>
    c === '\n' ? '&#10;' : c === '\r' ? '&#13;' : c === '\t' ? '&#9;' : escapeChar(c),
  );
}

const TEXT_SPECIALS = /[&<>"'\r]/;
const ATTR_SPECIALS = /[&<>"'\n\r\t]/;

/** Escapes text for element content (`&`, `<`, `>`). */
export function escapeText(value: string): string {
  if (!TEXT_SPECIALS.test(value)) return value;
  return value.replace(/[&<>"'\r]/g, escapeChar);
}

/** Escapes a value for a single-quoted attribute, as libvirt's formatter does. */
export function escapeAttr(value: string): string {
  if (!ATTR_SPECIALS.test(value)) return value;
  return value.replace(/[&<>"'\n\r\t]/g, escapeChar);
}

function escapeChar(c: string): string {
  switch (c) {
    case '&':
      return '&amp;';
    case '<':
      return '&lt;';
    case '>':
      return '&gt;';
    case '"':
      return '&quot;';
    case "'":
      return '&apos;';
    case '\n':
      return '&#xA;';
    case '\r':
      return '&#xD;';
    default:
      return '&#x9;';
  }
}
