/**
 * Foundation benchmarks: capabilities parse, format and validate, and
 * connect + getCapabilities on test:///default; peers are python3-libvirt
 * (getCapabilities on test:///default) and xmllint --relaxng.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Capabilities } from '../src/conf/capabilities.js';
import { connect } from '../src/connection.js';
import { SCHEMA_FILES } from '../src/xml/schemas.gen.js';
import { validate } from '../src/xml/validate.js';
import { type BenchRow, hasCommand, measure, pythonMedianUs, row } from './harness.js';

export async function run(): Promise<BenchRow[]> {
  // The document libvirt's test driver reports (ours matches it byte for byte).
  const probe = await connect('test:///default');
  const xml = (await probe.getCapabilities()).toXML();
  await probe.close();
  const caps = Capabilities.fromXML(xml);
  const rows: BenchRow[] = [];

  rows.push(row('capabilities parse (test:///default caps)', await measure(() => Capabilities.fromXML(xml))));
  rows.push(row('capabilities format', await measure(() => caps.toXML())));

  await validate(xml, 'capability'); // compile once, as a long-lived process would
  const ours = await measure(() => validate(xml, 'capability'));
  rows.push(row('capabilities validate (RelaxNG)', ours, { name: 'xmllint --relaxng', us: xmllintUs(xml) }));

  const libvirt = pythonMedianUs(
    '',
    "c = libvirt.open('test:///default')\nc.getCapabilities()\nc.close()",
    500,
  );
  rows.push(
    row(
      "connect('test:///default') + getCapabilities + close",
      await measure(async () => {
        const c = await connect('test:///default');
        await c.getCapabilities();
        await c.close();
      }),
      { name: 'python3-libvirt open+getCapabilities+close', us: libvirt },
    ),
  );
  const conn = await connect('test:///default');
  const libvirtCaps = pythonMedianUs("c = libvirt.open('test:///default')", 'c.getCapabilities()');
  rows.push(
    row('getCapabilities (XML string)', await measure(async () => (await conn.getCapabilities()).toXML()), {
      name: 'python3-libvirt getCapabilities',
      us: libvirtCaps,
    }),
  );
  await conn.close();
  return rows;
}

/**
 * xmllint validates many files in one process, so the per-document cost is
 * (time for N files - time for 1 file) / (N - 1): process start-up and
 * schema compilation cancel out.
 */
function xmllintUs(xml: string): number | undefined {
  if (!hasCommand('xmllint') || !('capability.rng' in SCHEMA_FILES)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-bench-'));
  try {
    for (const [name, text] of Object.entries(SCHEMA_FILES)) writeFileSync(join(dir, name), text as string);
    const n = 400;
    const files: string[] = [];
    for (let i = 0; i < n; i++) {
      const f = join(dir, `doc${i}.xml`);
      writeFileSync(f, xml);
      files.push(f);
    }
    const time = (list: string[]) => {
      const t0 = process.hrtime.bigint();
      const r = spawnSync('xmllint', ['--noout', '--relaxng', join(dir, 'capability.rng'), ...list], {
        stdio: 'ignore',
      });
      const t = Number(process.hrtime.bigint() - t0) / 1000;
      return r.status === 0 ? t : undefined;
    };
    const one = time(files.slice(0, 1));
    const all = time(files);
    if (one === undefined || all === undefined) return undefined;
    return (all - one) / (n - 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
