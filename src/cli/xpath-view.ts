/**
 * virsh's `--xpath` and `--wrap` of the `*dumpxml` commands: the nodes an
 * XPath expression selects in the document, each as libxml2 writes a node
 * (the document read without its indentation, then indented again, so
 * attributes come in double quotes), one a line; with `--wrap`, inside one
 * `<nodes>` element. As in virsh, an expression must select nodes
 * (`count(...)` is refused), and one libxml2 cannot read selects nothing. libxml2 is the same WebAssembly
 * build the schema validation runs, loaded on the first use.
 *
 * @module
 */
import { loadLibxml2 } from '../xml/validate-engine.js';
import type { OptSpec, ParsedOpts } from './args.js';
import { CliError, type CommandContext } from './command.js';

/** Prints `xml` for a `*dumpxml` command, through its `--xpath` and `--wrap`. */
export async function printXml(ctx: CommandContext, xml: string, opts: ParsedOpts): Promise<void> {
  const text = await xpathView(xml, opts.str('xpath'), opts.flag('wrap'));
  // nothing selected prints nothing, not an empty line
  if (text !== '') ctx.out(text);
}

/** The two options, as each `*dumpxml` command lists them. */
export const XPATH_OPTIONS: readonly OptSpec[] = [
  { name: 'xpath', kind: 'string', help: 'xpath expression to filter the XML document' },
  { name: 'wrap', kind: 'bool', help: 'wrap xpath results in an common root element' },
];

type Libxml2 = Awaited<ReturnType<typeof loadLibxml2>>;
type Node = InstanceType<Libxml2['XmlElement']> | InstanceType<Libxml2['XmlAttribute']> | object;

/**
 * What a `*dumpxml` command prints for `xml`: the document itself without
 * `xpath`, else the selected nodes (see the module). An expression libxml2
 * cannot read selects nothing; libxml2 itself prints why on the error
 * stream (`XPath error : Invalid expression`), as under virsh.
 */
export async function xpathView(xml: string, xpath: string | undefined, wrap: boolean): Promise<string> {
  if (xpath === undefined) return xml.trimEnd();
  const lib = await loadLibxml2();
  const doc = lib.XmlDocument.fromString(xml, { option: lib.ParseOption.XML_PARSE_NOBLANKS });
  try {
    let found: ReturnType<typeof doc.eval>;
    try {
      found = doc.eval(xpath);
    } catch {
      return '';
    }
    // libvirt's INTERNAL_ERROR, worded as virsh prints it
    if (!Array.isArray(found)) throw new CliError(`internal error: Incorrect xpath '${xpath}'`);
    if (!wrap) return found.map((n) => nodeText(lib, n)).join('\n');
    return wrapped(lib, found);
  } finally {
    doc.dispose();
  }
}

/** One selected node as libxml2's node dump writes it. */
function nodeText(lib: Libxml2, n: Node): string {
  if (n instanceof lib.XmlElement) return n.toString({ format: true });
  if (n instanceof lib.XmlAttribute) return ` ${qualified(n)}="${escapeXml(n.content, true)}"`;
  if (n instanceof lib.XmlText) return escapeXml(n.content, false);
  if (n instanceof lib.XmlComment) return `<!--${n.content}-->`;
  if (n instanceof lib.XmlCData) return `<![CDATA[${n.content}]]>`;
  return '';
}

/**
 * The nodes copied under one `<nodes>` root, as virsh builds it: elements,
 * text and comments in order as children, attributes onto the root.
 */
function wrapped(lib: Libxml2, nodes: readonly Node[]): string {
  const attrs = nodes.filter((n) => n instanceof lib.XmlAttribute);
  const children = nodes.filter((n) => !(n instanceof lib.XmlAttribute));
  const doc = lib.XmlDocument.fromString(
    `<nodes>${children.map((n) => (n instanceof lib.XmlElement ? n.toString() : nodeText(lib, n))).join('')}</nodes>`,
    { option: lib.ParseOption.XML_PARSE_NOBLANKS },
  );
  try {
    for (const a of attrs) doc.root.setAttr(qualified(a), a.content);
    return doc.root.toString({ format: true });
  } finally {
    doc.dispose();
  }
}

function qualified(a: InstanceType<Libxml2['XmlAttribute']>): string {
  return a.prefix ? `${a.prefix}:${a.name}` : a.name;
}

/** libxml2's escaping of text, and of an attribute value (which also escapes quotes and whitespace controls). */
function escapeXml(s: string, attribute: boolean): string {
  let out = s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
  if (attribute)
    out = out
      .replaceAll('"', '&quot;')
      .replaceAll('\n', '&#10;')
      .replaceAll('\r', '&#13;')
      .replaceAll('\t', '&#9;');
  else out = out.replaceAll('\r', '&#13;');
  return out;
}
