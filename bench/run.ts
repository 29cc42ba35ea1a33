/**
 * `npm run bench -- [--json FILE] [--only NAME]`: runs every benchmark
 * module in bench/ and prints virtkit beside its peer with the ratio
 * (peer time / virtkit time: above 1 means virtkit is faster).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchRow } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const MODULES = [
  'foundation',
  'cpu',
  'fleet',
  'domain',
  'test-driver',
  'domain-stats',
  'qemu',
  'qemu-lifecycle',
  'qemu-guests',
  'qemu-migrate',
  'qemu-save',
  'qemu-snapshot',
  'hotplug',
  'remote-migrate',
  'qemu-command-line',
  'qemu-argv-corpus',
  'remote',
  'storage',
  'network',
  'xml',
  'cli',
  'bundle-size',
];

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let json: string | undefined;
  const only: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') json = argv[++i];
    else if (argv[i] === '--only') only.push(argv[++i] ?? '');
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  const results: Record<string, BenchRow[] | { error: string }> = {};
  for (const name of MODULES) {
    if (only.length > 0 && !only.includes(name)) continue;
    const file = join(here, `${name}.ts`);
    if (!existsSync(file)) continue;
    try {
      const mod = (await import(pathToFileURL(file).href)) as { run(): Promise<BenchRow[]> };
      const rows = await mod.run();
      results[name] = rows;
      print(name, rows);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      results[name] = { error };
      console.log(`\n## ${name}: failed: ${error}`);
    }
  }
  if (json) writeFileSync(json, `${JSON.stringify({ node: process.version, results }, null, 2)}\n`);
}

function print(name: string, rows: BenchRow[]): void {
  console.log(`\n## ${name}`);
  console.log('| benchmark | virtkit µs/op | peer | peer µs/op | ratio | note |');
  console.log('| --- | ---: | --- | ---: | ---: | --- |');
  for (const r of rows) {
    // the note says why a peer is missing, so a skipped peer is visible and not just a dash
    console.log(
      `| ${r.name} | ${r.virtkitUs} | ${r.peer ?? '-'} | ${r.peerUs ?? '-'} | ${r.ratio !== undefined ? `${r.ratio}x` : '-'} | ${(r.note ?? '').replaceAll('|', '\\|')} |`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
