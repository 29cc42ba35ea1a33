/**
 * Checks of the rules the layout promises (ARCHITECTURE.md): the
 * browser-safe folders import no Node module and Node modules stay in the
 * folders that do I/O, relative imports carry their `.js` suffix (Node's ESM
 * resolution needs it in the built package), no two modules of `src/` import
 * each other even indirectly, files stay small unless named below with a
 * reason, and every driver folder has the same shape.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './shared-data.js';

const SRC = join(REPO_ROOT, 'src');

function sources(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

// `import ... from`, `import type ... from`, `export ... from`, over several lines too.
const IMPORT_RE = /(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g;

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT_RE)].map((m) => m[1]!);
}

const rel = (f: string) => relative(REPO_ROOT, f);

/**
 * Folders whose code may import `node:` modules: they do the I/O. Everything
 * else (the public facade, `conf/`, `cpu/`, `machine/`, `xml/`) runs in a
 * browser too.
 */
const NODE_ALLOWED = ['src/drivers/', 'src/cli/'];

/** Lines a source file may have; a bigger one is split along its responsibilities or named below. */
const MAX_LINES = 420;

/** Files allowed over {@link MAX_LINES}, each with the reason it is one file. */
const LARGE_FILES: Record<string, string> = {
  'src/drivers/remote/gen/remote-protocol.ts': 'generated from remote_protocol.x (npm run gen:remote)',
  'src/xml/libxml2-loader.gen.ts': "libxml2-wasm's wrapper as one async function (npm run gen:libxml2)",
  'src/driver.ts': 'the driver interface: one documented optional method per libvirt call',
  'src/driver-objects.ts':
    'the secondary driver interfaces (storage, networks, secrets, node devices): one documented method per libvirt call',
  'src/connection.ts':
    'the Connection facade: one documented method per libvirt connection call, the logic lives in drivers',
  'src/drivers/qemu/qemu-connection.ts':
    'the wiring of the stages: one delegation per DriverConnection method, the logic lives in the stages',
  'src/drivers/qemu/lifecycle/qemu-domain-runner.ts':
    "one guest's runner: lifecycle calls and a getter per capability, each capability a module beside it",
  'src/drivers/test/test-connection.ts':
    "libvirt's test driver's own calls, one job each; groups beyond the lifecycle live beside it (agent-ops, test-stats, ...)",
  'src/domain.ts':
    'the Domain facade: one documented method per libvirt domain call, the logic lives in drivers',
  'src/conf/binding.ts': 'the XML binding core, being rewritten with src/xml',
  'src/xml/parser.ts':
    'the single-pass XML parser: one state machine over the text, kept together to stay fast',
  'src/cpu/x86.ts': 'the x86 CPUID/MSR feature model, one algorithm over one data set',
  'src/cpu/data/x86-map.ts': 'data tables of the x86 CPU map',
  'src/drivers/qemu/qmp/qmp-client.ts': 'one QMP session: framing, greeting, commands, events, close',
  'src/drivers/remote/remote-connection.ts':
    'one method per remote procedure of DriverConnection, each a few lines',
};

/** The stages of the QEMU driver, each a folder with an `index.ts`. */
const QEMU_STAGES = [
  'probe',
  'caps',
  'defaults',
  'command-line',
  'storage',
  'nodedev',
  'network',
  'domains',
  'lifecycle',
  'qmp',
];

/** Import graph of `src/`: module -> the modules it imports (relative imports, types included). */
function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const deps = imports(f)
      .filter((m) => m.startsWith('.'))
      .map((m) => resolve(dirname(f), m.replace(/\.js$/, '.ts')))
      .filter((m) => m.endsWith('.ts'));
    graph.set(f, deps);
  }
  return graph;
}

/** Strongly connected components with more than one module (or a module importing itself): the cycles. */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(component.map(rel).sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('house rules', () => {
  const all = sources(SRC);
  const browserSafe = ['conf', 'cpu', 'machine', 'xml'].flatMap((d) => sources(join(SRC, d)));

  it('src/conf, src/cpu, src/machine and src/xml import no node: module', () => {
    const offenders = browserSafe.flatMap((f) =>
      imports(f)
        .filter((m) => m.startsWith('node:') || ['fs', 'path', 'os', 'child_process', 'net'].includes(m))
        .map((m) => `${rel(f)} imports ${m}`),
    );
    expect(offenders).toEqual([]);
  });

  it(`node: modules are imported only under ${NODE_ALLOWED.join(', ')}`, () => {
    const offenders = all
      .filter((f) => !NODE_ALLOWED.some((dir) => rel(f).startsWith(dir)))
      .flatMap((f) =>
        imports(f)
          .filter((m) => m.startsWith('node:'))
          .map((m) => `${rel(f)} imports ${m}`),
      );
    expect(offenders).toEqual([]);
  });

  it('relative imports in src end in .js', () => {
    const offenders = all.flatMap((f) =>
      imports(f)
        .filter((m) => m.startsWith('.') && !m.endsWith('.js') && !m.endsWith('.json'))
        .map((m) => `${rel(f)} imports ${m}`),
    );
    expect(offenders).toEqual([]);
  });

  it('no import cycles between the modules of src (type-only imports count)', () => {
    const graph = importGraph(all);
    // the graph is real: every relative import resolves to a file
    const dangling = [...graph].flatMap(([f, deps]) =>
      deps.filter((d) => !graph.has(d)).map((d) => `${rel(f)} -> ${rel(d)}`),
    );
    expect(dangling).toEqual([]);
    expect(cycles(graph)).toEqual([]);
  });

  it(`files over ${MAX_LINES} lines are only the named exceptions, and every exception is still one`, () => {
    const lines = new Map(all.map((f) => [rel(f), readFileSync(f, 'utf8').split('\n').length - 1]));
    const tooBig = [...lines]
      .filter(([f, n]) => n > MAX_LINES && !(f in LARGE_FILES))
      .map(([f, n]) => `${f}: ${n}`);
    expect(tooBig).toEqual([]);
    // an exception that no longer applies comes off the list
    const stale = Object.keys(LARGE_FILES).filter((f) => (lines.get(f) ?? 0) <= MAX_LINES);
    expect(stale).toEqual([]);
  });

  it('each driver folder has an index.ts exporting its factory, a *-connection.ts, and is registered', () => {
    const driversDir = join(SRC, 'drivers');
    const registry = readFileSync(join(driversDir, 'registry.ts'), 'utf8');
    const folders = readdirSync(driversDir).filter((d) => statSync(join(driversDir, d)).isDirectory());
    expect(folders.sort()).toEqual(['qemu', 'remote', 'test']);
    for (const name of folders) {
      const dir = join(driversDir, name);
      const index = join(dir, 'index.ts');
      expect(existsSync(index), `${name}/index.ts`).toBe(true);
      expect(readFileSync(index, 'utf8'), `${name}/index.ts exports ${name}Driver`).toMatch(
        new RegExp(`export const ${name}Driver: DriverFactory`),
      );
      expect(existsSync(join(dir, `${name}-connection.ts`)), `${name}/${name}-connection.ts`).toBe(true);
      // registered either by a static import or, as the built-in drivers are (loaded on first
      // use), by a dynamic import of the folder that takes the factory by name
      expect(registry, `registry.ts imports ${name}Driver`).toMatch(
        new RegExp(
          `import \\{ ${name}Driver \\} from './${name}/index.js'|import\\('./${name}/index.js'\\)\\)\\.${name}Driver\\b`,
        ),
      );
    }
  });

  it('the QEMU driver has one folder with an index.ts per stage', () => {
    const qemu = join(SRC, 'drivers', 'qemu');
    const folders = readdirSync(qemu).filter((d) => statSync(join(qemu, d)).isDirectory());
    expect(folders.sort()).toEqual([...QEMU_STAGES].sort());
    for (const stage of QEMU_STAGES)
      expect(existsSync(join(qemu, stage, 'index.ts')), `qemu/${stage}/index.ts`).toBe(true);
  });
});
