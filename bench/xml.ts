/**
 * XML parsing benchmarks: raw parse throughput of our parser beside
 * @xmldom/xmldom, libxml2-wasm, libxml2 in C (xmlReadMemory through
 * python3's ctypes, one process) and `xmllint --noout` (many files in one
 * process), over the domain, capabilities and CPU documents of libvirt's
 * conformance data (our fixtures without it); and `DomainDef.fromXML` of the
 * small domain with our parser against the same model fed by xmldom, the
 * parser it replaced.
 *
 * Throughput rows give µs per MB of input, so that the ratio column reads
 * as usual (peer time / our time: above 1 means we are faster); the name
 * carries our MB/s.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DOMParser } from '@xmldom/xmldom';
import * as libxml2 from 'libxml2-wasm';
import { DomainDef } from '../src/conf/domain/domain-def.js';
import { parseXml } from '../src/xml/parse.js';
import type { XmlAttr, XmlElement, XmlNode } from '../src/xml/tree.js';
import { HAS_SHARED, SHARED_DIR } from '../test/shared-data.js';
import { type BenchRow, hasCommand, measure, row } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));

function xmlUnder(dir: string, keep: (name: string, text: string) => boolean = () => true): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.xml')) continue;
    const text = readFileSync(join(e.parentPath, e.name), 'utf8');
    if (keep(e.name, text)) out.push(text);
  }
  return out;
}

function corpora(): Array<[string, string[]]> {
  if (!HAS_SHARED) {
    const f = join(here, '../fixtures');
    return [['fixtures', xmlUnder(f)]];
  }
  return [
    ['domain', xmlUnder(join(SHARED_DIR, 'domainxml'), (_n, t) => /<domain[\s>]/.test(t.slice(0, 400)))],
    [
      'capabilities',
      [
        ...xmlUnder(join(SHARED_DIR, 'domaincaps')),
        ...xmlUnder(join(SHARED_DIR, 'capabilities')),
        ...xmlUnder(join(SHARED_DIR, 'hostcaps')),
        ...xmlUnder(join(SHARED_DIR, 'qemucaps')),
      ],
    ],
    ['CPU', xmlUnder(join(SHARED_DIR, 'cpu'))],
  ];
}

/** µs to parse every document once, median of rounds. */
async function perCorpus(docs: string[], parse: (xml: string) => unknown): Promise<number> {
  return measure(
    () => {
      for (const d of docs) parse(d);
    },
    { iterations: 5, warmup: 2, minTimeMs: 1500 },
  );
}

/** libxml2's xmlReadMemory in C, called from python3 through ctypes: µs per pass over the files. */
function libxml2CUs(files: string[]): number | undefined {
  const script = `
import ctypes, ctypes.util, json, statistics, sys, time
lib = ctypes.CDLL(ctypes.util.find_library('xml2'))
lib.xmlReadMemory.restype = ctypes.c_void_p
lib.xmlReadMemory.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
lib.xmlFreeDoc.argtypes = [ctypes.c_void_p]
docs = [open(f, 'rb').read() for f in sys.argv[1:]]
def once():
    for d in docs:
        lib.xmlFreeDoc(lib.xmlReadMemory(d, len(d), None, None, 0))
once()
s = []
t_end = time.perf_counter() + 1.5
while len(s) < 5 or time.perf_counter() < t_end:
    t0 = time.perf_counter_ns(); once(); s.append((time.perf_counter_ns() - t0) / 1000)
print(json.dumps(statistics.median(s)))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', script, ...files], { encoding: 'utf8', timeout: 120_000 });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

/** `xmllint --noout` over all files in one process, minus its run over one file: µs per pass. */
function xmllintPassUs(files: string[]): number | undefined {
  if (!hasCommand('xmllint')) return undefined;
  const time = (list: string[]) => {
    const samples: number[] = [];
    for (let k = 0; k < 5; k++) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync('xmllint', ['--noout', ...list], { stdio: 'ignore' });
      if (r.status !== 0) return undefined;
      samples.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    return samples.sort((a, b) => a - b)[2]!;
  };
  const one = time(files.slice(0, 1));
  const all = time(files);
  return one === undefined || all === undefined ? undefined : all - one;
}

/** The parser before ours: xmldom's DOM turned into our tree, as parseXml used to do. */
function viaXmldom(xml: string): XmlElement {
  const doc = new DOMParser().parseFromString(xml, 'text/xml') as unknown as { documentElement: DomNode };
  return convert(doc.documentElement);
}
interface DomNode {
  nodeType: number;
  nodeName: string;
  nodeValue: string | null;
  childNodes: ArrayLike<DomNode>;
  attributes?: ArrayLike<{ name: string; value: string }>;
}
function convert(n: DomNode): XmlElement {
  const attrs: XmlAttr[] = [];
  for (let i = 0; i < (n.attributes?.length ?? 0); i++) {
    const a = n.attributes![i]!;
    attrs.push({ name: a.name, value: a.value });
  }
  const children: XmlNode[] = [];
  let hasElement = false;
  for (let i = 0; i < n.childNodes.length; i++) if (n.childNodes[i]!.nodeType === 1) hasElement = true;
  for (let i = 0; i < n.childNodes.length; i++) {
    const c = n.childNodes[i]!;
    if (c.nodeType === 1) children.push(convert(c));
    else if (c.nodeType === 3) {
      const v = c.nodeValue ?? '';
      if (!(hasElement && /^[ \t\n\r]*$/.test(v))) children.push({ type: 'text', value: v });
    } else if (c.nodeType === 4) children.push({ type: 'cdata', value: c.nodeValue ?? '' });
    else if (c.nodeType === 8) children.push({ type: 'comment', value: c.nodeValue ?? '' });
  }
  return { type: 'element', name: n.nodeName, attrs, children };
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-bench-xml-'));
  try {
    for (const [label, docs] of corpora()) {
      const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d), 0);
      const mb = bytes / 1e6;
      const files = docs.map((d, i) => {
        const f = join(dir, `${label}-${i}.xml`);
        writeFileSync(f, d);
        return f;
      });
      const ours = (await perCorpus(docs, (x) => parseXml(x))) / mb;
      const name = `parse ${label} (${docs.length} files, ${mb.toFixed(2)} MB; µs/MB, ours ${(1e6 / ours).toFixed(1)} MB/s)`;
      const peers: Array<[string, number | undefined]> = [
        [
          '@xmldom/xmldom',
          (await perCorpus(docs, (x) => new DOMParser().parseFromString(x, 'text/xml'))) / mb,
        ],
        ['libxml2-wasm', (await perCorpus(docs, (x) => libxml2.XmlDocument.fromString(x).dispose())) / mb],
        ['libxml2 xmlReadMemory (C, ctypes)', mbScale(libxml2CUs(files), mb)],
        ['xmllint --noout (one process)', mbScale(xmllintPassUs(files), mb)],
      ];
      for (const [peer, us] of peers) rows.push(row(name, ours, { name: peer, us }));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const small = readFileSync(join(here, '../fixtures/domain/web-server.xml'), 'utf8');
  rows.push(
    row('DomainDef.fromXML, small domain', await measure(() => DomainDef.fromXML(small)), {
      name: 'the same model fed by @xmldom/xmldom (before)',
      us: await measure(() => DomainDef.fromElement(viaXmldom(small))),
    }),
  );
  const heap = heapPerDef(small);
  if (heap !== undefined) {
    rows.push({
      name: `heap per DomainDef.fromXML, ${Buffer.byteLength(small)}-byte domain (bytes)`,
      virtkitUs: heap,
      note: "bytes, not µs; libvirt's virDomainDef for a 3 KB document: 10.4 KB",
    });
  }
  return rows;
}

/** Heap each parsed definition keeps, after full GCs; undefined if GC cannot be forced. */
function heapPerDef(xml: string): number | undefined {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  if (typeof gc !== 'function') return undefined;
  const n = 2000;
  // distinct sources, so that nothing is shared between definitions by accident
  const sources = Array.from({ length: n }, (_, i) => xml.replace('<name>', `<name>h${i}-`));
  // replace() gives ropes, which the parser's first read flattens into a new
  // copy: flatten them now, or each definition seems to cost its source too
  for (const s of sources) s.charCodeAt(s.length >> 1);
  const keep: DomainDef[] = [];
  gc();
  const before = process.memoryUsage().heapUsed;
  for (const s of sources) keep.push(DomainDef.fromXML(s));
  gc();
  const after = process.memoryUsage().heapUsed;
  return keep.length === n ? Math.round((after - before) / n) : undefined;
}

function mbScale(us: number | undefined, mb: number): number | undefined {
  return us === undefined ? undefined : us / mb;
}
