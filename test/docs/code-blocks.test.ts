/**
 * Every ```ts block of README.md and docs/*.md is type-checked against the
 * source tree and run, so an example that no longer matches the API fails
 * here instead of misleading a reader. A block may assume values a reader
 * has at hand (a domain XML, two host CPUs): FIXTURES supplies them, per
 * block. Blocks that need a real QEMU, a daemon or a remote host are only
 * type-checked, with the reason beside them; README blocks that fail as the
 * README stands are listed in README_FAILS with the cause, and run as
 * expected failures until the README is fixed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fixture, REPO_ROOT } from '../shared-data.js';
import { allBlocks, blockModule, type CodeBlock } from './code-blocks.js';

const root = REPO_ROOT;
const src = (p: string) => JSON.stringify(join(root, 'src', p));

const DOMAIN_XML = `const xml = ${JSON.stringify(readFileSync(fixture('virsh/vm1.xml'), 'utf8'))};`;
const CPU_FIXTURES = `
import { CpuDef as FixtureCpuDef } from ${src('conf/index.js')};
const hostXml = "<cpu><arch>x86_64</arch><model>Skylake-Client-IBRS</model><vendor>Intel</vendor><feature name='vmx'/></cpu>";
const guestXml = "<cpu mode='custom' match='exact'><model>Haswell-noTSX</model></cpu>";
const hostA = hostXml;
const hostB = "<cpu><arch>x86_64</arch><model>Haswell-noTSX</model><vendor>Intel</vendor></cpu>";
const host = FixtureCpuDef.fromXML(hostXml);
const guest = FixtureCpuDef.fromXML("<cpu mode='custom' match='exact'><model>Skylake-Client</model><feature policy='require' name='vmx'/></cpu>");
const models = ['Skylake-Client', 'Haswell-noTSX'];
`;

/** What a block assumes, by `file:heading:n` (n counts blocks under the same heading from 1). */
const FIXTURES: Readonly<Record<string, string>> = {
  'README.md:Domain XML:1': DOMAIN_XML,
  'README.md:CPU engine (`virtkit/cpu`):1': CPU_FIXTURES,
  'README.md:Testing against a fake hypervisor: the `test` driver:1': `import { connect, TestControl } from ${src('index.js')};`,
  'README.md:QEMU: capabilities and domain capabilities:1': `import { connect, DomainCapabilities } from ${src('index.js')};`,
  'README.md:QEMU command lines:1': DOMAIN_XML,
  'README.md:Running guests with `qemu:///session` / `qemu:///system`:1': `import { connect } from ${src('index.js')};`,
  'README.md:Remote libvirt daemons:1': `import { connect } from ${src('index.js')};`,
  'README.md:Running guests with `qemu:///session` / `qemu:///system`:2': `import { connect } from ${src('index.js')};`,
  'README.md:Storage, network, node device and secret XML:1': `import { connect } from ${src('index.js')};`,
};

/** Blocks that are type-checked but not run, and why. */
const COMPILE_ONLY: Readonly<Record<string, string>> = {
  'README.md:QEMU: capabilities and domain capabilities:1':
    "probes the host's QEMU binaries and writes its cache in the user's directories",
  'README.md:QEMU command lines:1': 'spawns the QEMU it builds a command line for',
  'README.md:Running guests with `qemu:///session` / `qemu:///system`:1':
    'starts a real guest and then waits for its events forever',
  'README.md:Remote libvirt daemons:1': 'needs an ssh-reachable libvirt host',
  'README.md:Running guests with `qemu:///session` / `qemu:///system`:2':
    'migrates a running guest between two state roots (the real-QEMU tests in test/drivers/qemu-migration do)',
  'docs/drivers.md:The QEMU driver:1': 'makes a pool directory under /srv and a 10 GiB image in it',
  'docs/drivers.md:The QEMU driver:2': 'formats and mounts a block device of the host (as root)',
  'docs/drivers.md:Devices:1': 'hot-plugs devices into a running QEMU guest',
  'docs/drivers.md:QEMU networks:1': 'makes a bridge, nftables rules and a dnsmasq on the host (as root)',
};

/** README blocks that fail as the README stands (README.md is the lead's to fix), with the cause. */
const README_FAILS: Readonly<Record<string, string>> = {};

function key(block: CodeBlock, all: readonly CodeBlock[]): string {
  const same = all.filter((b) => b.file === block.file && b.heading === block.heading);
  return `${block.file}:${block.heading}:${same.indexOf(block) + 1}`;
}

const blocks = allBlocks(root);
let dir = '';
const files = new Map<CodeBlock, string>();
let diagnostics = new Map<string, string[]>();

beforeAll(() => {
  dir = mkdtempSync(join(root, 'test', 'docs', '.blocks-'));
  for (const [i, b] of blocks.entries()) {
    const file = join(dir, `block-${i}.ts`);
    writeFileSync(file, blockModule(b, root, FIXTURES[key(b, blocks)] ?? ''));
    files.set(b, file);
  }
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: () => {},
    },
  );
  const program = ts.createProgram([...files.values()], { ...config?.options, noEmit: true });
  diagnostics = new Map();
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const f = d.file?.fileName;
    if (!f?.startsWith(dir)) continue;
    const at = d.start === undefined ? '' : `${d.file?.getLineAndCharacterOfPosition(d.start).line}: `;
    const list = diagnostics.get(f) ?? [];
    list.push(`${at}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    diagnostics.set(f, list);
  }
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('markdown code blocks', () => {
  it('finds the blocks of README.md and docs/*.md', () => {
    expect(blocks.filter((b) => b.file === 'README.md').length).toBeGreaterThan(0);
    expect(blocks.filter((b) => b.file.startsWith('docs/')).length).toBeGreaterThan(0);
    // every table entry still names a block, so a renamed heading cannot hide one
    const keys = new Set(blocks.map((b) => key(b, blocks)));
    for (const k of [...Object.keys(FIXTURES), ...Object.keys(COMPILE_ONLY), ...Object.keys(README_FAILS)]) {
      expect(keys.has(k), k).toBe(true);
    }
  });

  for (const b of blocks) {
    const k = key(b, blocks);
    const fails = README_FAILS[k];
    const name = `${b.file}:${b.line} (${b.heading})${COMPILE_ONLY[k] ? ` type-checks only: ${COMPILE_ONLY[k]}` : ' compiles and runs'}${fails ? ` — fails: ${fails}` : ''}`;
    (fails ? it.fails : it)(
      name,
      async () => {
        const file = files.get(b) as string;
        expect(diagnostics.get(file) ?? [], `type errors in ${relative(root, file)}`).toEqual([]);
        if (COMPILE_ONLY[k]) return;
        const log = vi.spyOn(console, 'log').mockImplementation(() => {});
        try {
          await import(pathToFileURL(file).href);
        } finally {
          log.mockRestore();
        }
      },
      60_000,
    );
  }
});
