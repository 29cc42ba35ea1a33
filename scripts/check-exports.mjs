// Imports every subpath the package exports, through the package's own
// name (Node resolves a package's self-reference by its `exports`), so a
// subpath that points at a missing file or loses an export fails CI.
// Run after `npm run build`.
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const expected = {
  '.': ['connect', 'Connection', 'VirError', 'Capabilities', 'CpuDef', 'parseUri', 'validate'],
  './conf': ['Capabilities', 'CpuDef', 'CpuData', 'elementMapper'],
  './xml': ['parseXml', 'serializeXml', 'xmlEqual', 'validate'],
  './cpu': [],
};
let failed = false;
for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (subpath.includes('*') || subpath === './package.json') continue;
  const spec = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
  try {
    const mod = await import(spec);
    const missing = (expected[subpath] ?? []).filter((name) => !(name in mod));
    if (missing.length > 0) {
      failed = true;
      console.error(`${spec}: missing exports ${missing.join(', ')}`);
    } else {
      console.log(`${spec}: ok (${Object.keys(mod).length} exports)`);
    }
  } catch (err) {
    failed = true;
    console.error(`${spec} (${JSON.stringify(target)}): ${err.message}`);
  }
}
process.exit(failed ? 1 : 0);
