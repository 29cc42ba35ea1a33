// Loads every subpath the package exports, through the package's own name
// (Node resolves a package's self-reference by its `exports`), with both
// `import` and `require()` (Node >= 20.19 loads ES modules with require), so
// a subpath that points at a missing file, loses an export, or cannot be
// required (a top-level await in its graph) fails CI. Run after `npm run build`.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const require = createRequire(import.meta.url);
const expected = {
  '.': ['connect', 'Connection', 'VirError', 'Capabilities', 'CpuDef', 'parseUri', 'validate'],
  './conf': ['Capabilities', 'CpuDef', 'CpuData', 'DomainDef', 'toBytes'],
  './xml': ['parseXml', 'serializeXml', 'xmlEqual', 'validate'],
  './cpu': ['compareCpu', 'baselineCpu', 'resolveGuestCpu', 'qemuCpuArg'],
  './internal': ['elementMapper', 'str', 'int', 'domainMapper', 'Capabilities'],
};
// binding internals stay out of the public model entries
const forbidden = /Mapper$|^(str|int|uint|attr|child|children|elementMapper|enumOf|yesNo|onOff)$/;
let failed = false;
const fail = (message) => {
  failed = true;
  console.error(message);
};
for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (subpath.includes('*') || subpath === './package.json') continue;
  const spec = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
  for (const [how, load] of [
    ['import', () => import(spec)],
    ['require', async () => require(spec)],
  ]) {
    let mod;
    try {
      mod = await load();
    } catch (err) {
      fail(`${how} ${spec} (${JSON.stringify(target)}): ${err.message}`);
      continue;
    }
    const missing = (expected[subpath] ?? []).filter((name) => !(name in mod));
    const leaked = subpath === './internal' ? [] : Object.keys(mod).filter((name) => forbidden.test(name));
    if (missing.length > 0) fail(`${how} ${spec}: missing exports ${missing.join(', ')}`);
    else if (leaked.length > 0) fail(`${how} ${spec}: binding internals exported: ${leaked.join(', ')}`);
    else console.log(`${how} ${spec}: ok (${Object.keys(mod).length} exports)`);
  }
}
process.exit(failed ? 1 : 0);
