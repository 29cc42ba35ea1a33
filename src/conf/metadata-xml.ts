/**
 * libvirt copies `<metadata>` through libxml2's own serializer rather than
 * its formatter, so that one subtree comes out in libxml2's style: double
 * quotes around attributes, libxml2's escapes, two-space indentation only
 * where an element holds no text. This writes a kept subtree the same way.
 *
 * @module
 */
import type { XmlElement, XmlNode } from '../xml/tree.js';

function escAttr(s: string): string {
  return s.replace(/[<>&"\n\r\t]/g, (c) =>
    c === '<'
      ? '&lt;'
      : c === '>'
        ? '&gt;'
        : c === '&'
          ? '&amp;'
          : c === '"'
            ? '&quot;'
            : c === '\n'
              ? '&#10;'
              : c === '\r'
                ? '&#13;'
                : '&#9;',
  );
}

function escText(s: string): string {
  return s.replace(/[<>&\r]/g, (c) =>
    c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : '&#13;',
  );
}

function dump(node: XmlNode, pad: string, format: boolean, out: string[]): void {
  switch (node.type) {
    case 'text':
      out.push(escText(node.value));
      return;
    case 'cdata':
      out.push('<![CDATA[', node.value, ']]>');
      return;
    case 'comment':
      out.push('<!--', node.value, '-->');
      return;
    case 'pi':
      out.push('<?', node.target, node.value === '' ? '' : ` ${node.value}`, '?>');
      return;
    case 'element': {
      out.push('<', node.name);
      for (const a of node.attrs) out.push(' ', a.name, '="', escAttr(a.value), '"');
      if (node.children.length === 0) {
        out.push('/>');
        return;
      }
      out.push('>');
      // libxml2 stops indenting inside an element that holds text.
      const indent = format && !node.children.some((c) => c.type === 'text' || c.type === 'cdata');
      for (const c of node.children) {
        if (indent) out.push('\n', pad, '  ');
        dump(c, `${pad}  `, indent, out);
      }
      if (indent) out.push('\n', pad);
      out.push('</', node.name, '>');
    }
  }
}

/** `el` (a `<metadata>` element) as libvirt writes it at nesting `depth`, without leading indentation. */
export function formatMetadata(el: XmlElement, depth: number): string {
  const out: string[] = [];
  dump(el, '  '.repeat(depth), true, out);
  return out.join('');
}

const PLACEHOLDER = 'virtkit:metadata';

/** A stand-in for `<metadata>` while the rest of a document is serialized. */
export function metadataPlaceholder(): XmlElement {
  return {
    type: 'element',
    name: 'metadata',
    attrs: [],
    children: [{ type: 'comment', value: PLACEHOLDER }],
  };
}

/** Puts the libxml2-style `<metadata>` in place of its stand-in in serialized text. */
export function fillMetadata(serialized: string, el: XmlElement, depth: number): string {
  return serialized.replace(`<metadata><!--${PLACEHOLDER}--></metadata>`, () => formatMetadata(el, depth));
}
