// From `npm pack` to fresh projects, as a user meets the package: the
// tarball's contents, `import` and `require()` of every subpath (require(esm),
// Node >= 20.19: one module instance for both), and the types under
// TypeScript's `nodenext`, `node16` and `bundler` resolutions.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../shared-data.js';
import { HAS_NPM, installTarball, packTarball } from './built-package.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
};
const SUBPATHS = Object.keys(pkg.exports)
  .filter((s) => s !== './package.json' && !s.includes('*'))
  .map((s) => (s === '.' ? 'virtkit' : `virtkit/${s.slice(2)}`));

const CPU_XML = "<cpu mode='custom' match='exact'><model>Haswell</model></cpu>";

// What each consumer does with what it loaded, the same for `import` and `require`.
const USE = `
  const out = {};
  for (const spec of ${JSON.stringify(SUBPATHS)}) out[spec] = Object.keys(await load(spec)).length;
  const conf = await load('virtkit/conf');
  const xml = await load('virtkit/xml');
  const root = await load('virtkit');
  out.cpuModel = conf.CpuDef.fromXML(${JSON.stringify(CPU_XML)}).model.name;
  out.sameClass = root.CpuDef === conf.CpuDef;
  out.valid = (await xml.validate(${JSON.stringify(CPU_XML)}, 'cpu')).valid;
  out.leaked = Object.keys(conf).filter((n) => /Mapper$/.test(n) || n === 'str' || n === 'int');
  const conn = await root.connect('test:///default');
  out.domains = (await conn.listDomains()).map((d) => d.name);
  await conn.close();
  console.log(JSON.stringify(out));
`;

const TS_APP = `
import { connect, TestControl, VirError } from 'virtkit';
import { CpuDef } from 'virtkit/conf';
import { compareCpu } from 'virtkit/cpu';
import { validate } from 'virtkit/xml';

export async function main(): Promise<string> {
  const cpu: CpuDef = CpuDef.fromXML("<cpu><model>Haswell</model></cpu>");
  const result: { valid: boolean } = await validate(cpu.toXML(), 'cpu');
  const conn = await connect('test:///default', { driverOptions: { control: new TestControl() } });
  // @ts-expect-error: a misspelt driver option is a type error through the package's types too
  await connect('test:///default', { driverOptions: { contrl: 1 } });
  await conn.close();
  const err: VirError | undefined = undefined;
  return String(result.valid) + compareCpu(cpu, cpu).result + String(err);
}
`;

function write(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function tsconfig(module: string, moduleResolution: string, types: string[]): string {
  return JSON.stringify({
    compilerOptions: {
      module,
      moduleResolution,
      target: 'es2022',
      lib: ['es2023', 'esnext.disposable', 'dom'],
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types,
      typeRoots: [join(REPO_ROOT, 'node_modules/@types')],
    },
    files: ['app.ts'],
  });
}

const TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

describe.skipIf(!HAS_NPM)(`the packed tarball${HAS_NPM ? '' : ' (skipped: npm not found)'}`, () => {
  let root = '';
  let files: string[] = [];

  beforeAll(() => {
    const tarball = packTarball();
    root = dirname(tarball);
    files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    write(join(root, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
    installTarball(root, tarball);
    write(join(root, 'esm/package.json'), JSON.stringify({ type: 'module' }));
    write(join(root, 'esm/check.js'), `const load = (s) => import(s);\n${USE}`);
    write(join(root, 'cjs/package.json'), JSON.stringify({ type: 'commonjs' }));
    write(
      join(root, 'cjs/check.js'),
      `const load = async (s) => require(s);\n(async () => {${USE}})().catch((e) => { console.error(e); process.exit(1); });`,
    );
  }, 240_000);

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('ships the build and schemas, no tests, no source maps, no internal declarations', () => {
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/conf/internal.d.ts');
    // validate()'s libxml2-wasm wrapper without a top-level await (src/xml/libxml2-loader.gen.ts)
    expect(files).toContain('package/dist/xml/libxml2-loader.gen.js');
    expect(files.some((f) => f.startsWith('package/schemas/'))).toBe(true);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => /^package\/(test|src|fixtures|scripts)\//.test(f))).toEqual([]);
    const dts = readFileSync(join(root, 'node_modules/virtkit/dist/connection.d.ts'), 'utf8');
    expect(dts).not.toMatch(/\b_domain\(|constructor\(uri/);
  });

  it('says what it is in its package.json: license, keywords, engines, sideEffects, one pinned libxml2-wasm', () => {
    const meta = JSON.parse(readFileSync(join(root, 'node_modules/virtkit/package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(meta).toMatchObject({ license: 'MIT', sideEffects: false, engines: { node: '>=20.19' } });
    expect(meta.keywords).toEqual(expect.arrayContaining(['libvirt', 'qemu']));
    expect(meta.dependencies).toEqual({ 'libxml2-wasm': expect.stringMatching(/^\d+\.\d+\.\d+$/) });
  });

  it('installs the `virtkit` program: its bin runs from the scratch project and talks to test:///default', () => {
    expect(files).toContain('package/dist/cli/bin/main.js');
    const bin = join(root, 'node_modules/.bin/virtkit');
    const version = execFileSync(bin, ['--version'], { cwd: root, encoding: 'utf8' });
    const meta = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.trim()).toBe(meta.version);
    // a chain on one connection: the domain defined first is there to start (virsh's test:/// semantics)
    const xml = join(root, 'guest.xml');
    writeFileSync(
      xml,
      "<domain type='test'><name>packed</name><memory>65536</memory><os><type>hvm</type></os></domain>",
    );
    const out = execFileSync(bin, ['-c', 'test:///default', `define ${xml}; start packed; domstate packed`], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(out).toContain("Domain 'packed' defined from");
    expect(out).toContain("Domain 'packed' started");
    expect(out.trim().split('\n').at(-1)).toBe('running');
  });

  for (const kind of ['esm', 'cjs'] as const) {
    it(`${kind === 'esm' ? 'import' : 'require()'} of every subpath works in a ${kind} project`, () => {
      const out = JSON.parse(
        execFileSync(process.execPath, ['check.js'], { cwd: join(root, kind), encoding: 'utf8' }),
      ) as Record<string, unknown>;
      for (const spec of SUBPATHS) expect(out[spec], spec).toBeGreaterThan(0);
      expect(out).toMatchObject({
        cpuModel: 'Haswell',
        sameClass: true,
        valid: true,
        leaked: [],
        domains: ['test'],
      });
    });
  }

  const resolutions: Array<[string, string, string, string[]]> = [
    ['esm', 'nodenext', 'nodenext', ['node']],
    ['esm', 'node16', 'node16', ['node']],
    ['esm', 'esnext', 'bundler', ['node']],
    ['cjs', 'nodenext', 'nodenext', ['node']],
  ];
  for (const [kind, module, resolution, types] of resolutions) {
    it(`type-checks in a ${kind} project with moduleResolution ${resolution}`, () => {
      const dir = join(root, `ts-${kind}-${resolution}`);
      write(join(dir, 'package.json'), JSON.stringify({ type: kind === 'esm' ? 'module' : 'commonjs' }));
      write(join(dir, 'tsconfig.json'), tsconfig(module, resolution, types));
      write(join(dir, 'app.ts'), TS_APP);
      try {
        execFileSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' });
      } catch (err) {
        throw new Error(`tsc (${resolution}, ${kind}): ${(err as { stdout?: string }).stdout ?? err}`);
      }
    }, 90_000);
  }
});
