/**
 * Foundation benchmarks: capabilities parse, format and validate, and
 * connect + getCapabilities on test:///default; peers are python3-libvirt
 * (getCapabilities on test:///default) and xmllint --relaxng.
 */
import { Capabilities } from '../src/conf/capabilities.js';
import { connect } from '../src/connection.js';
import { validate } from '../src/xml/validate.js';
import { type BenchRow, measure, pythonMedianUs, row, xmllintUs } from './harness.js';

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
  rows.push(
    row('capabilities validate (RelaxNG)', ours, {
      name: 'xmllint --relaxng',
      us: xmllintUs(xml, 'capability.rng'),
    }),
  );

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
