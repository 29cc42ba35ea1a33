// Bundles the `virtkit` command for start-up time: `dist/cli/bin.js` and the
// ~140 modules it reaches become a few chunks in `dist/cli/bin/`, which is
// what package.json's `bin` names. Node's ESM loader resolves, reads and
// links each module on its own, and for `virtkit list` that was more CPU than
// the command itself. Library entry points stay one module per file (tree
// shaking and `virtkit/internal` depend on it); only the program is bundled.
// Dynamic imports stay split (`--splitting`), so drivers and commands that a
// run does not use are still not loaded. Runs after `tsc` in `npm run build`.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist/cli/bin');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { main: join(root, 'dist/cli/bin.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // libxml2-wasm (the one dependency) is loaded from node_modules as installed
  packages: 'external',
  // the chunks sit as deep as dist/cli/commands/, so `../../../package.json` still finds the package's
  logLevel: 'warning',
  legalComments: 'none',
});
