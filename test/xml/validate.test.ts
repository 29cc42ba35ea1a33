/**
 * RelaxNG validation with our own schemas. Valid documents are real ones
 * (virsh's and libvirt's output); each invalid one breaks one rule of the
 * format at a known line, and where xmllint is installed its verdict on the
 * same documents must agree with ours.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VirError } from '../../src/errors.js';
import { type SchemaKind, validate } from '../../src/xml/validate.js';
import { fixture, HAS_SHARED, REPO_ROOT, SHARED_DIR, SHARED_NOTE } from '../shared-data.js';

const virshCaps = readFileSync(fixture('virsh/test-default-capabilities.xml'), 'utf8');
const qemuCaps = readFileSync(fixture('capabilities/qemu-session-x86_64.xml'), 'utf8');

const guestCpu = `<cpu mode='custom' match='exact' check='partial'>
  <model fallback='forbid'>Skylake-Client</model>
  <vendor>Intel</vendor>
  <topology sockets='1' dies='1' cores='2' threads='2'/>
  <feature policy='require' name='vmx'/>
  <feature policy='disable' name='hle'/>
  <numa>
    <cell id='0' cpus='0-1' memory='512' unit='MiB'/>
    <cell id='1' cpus='2-3' memory='524288' unit='KiB' memAccess='shared'/>
  </numa>
</cpu>
`;

/** `guestCpu` with `from` replaced by `to` (which must occur once). */
function brokenCpu(from: string, to: string): string {
  expect(guestCpu.split(from)).toHaveLength(2);
  return guestCpu.replace(from, to);
}

interface Bad {
  what: string;
  kind: SchemaKind;
  xml: string;
  line: number;
}

const bad: Bad[] = [
  {
    what: 'an unknown feature policy',
    kind: 'cpu',
    xml: brokenCpu("policy='disable'", "policy='maybe'"),
    line: 6,
  },
  { what: 'an unknown CPU mode', kind: 'cpu', xml: brokenCpu("mode='custom'", "mode='fancy'"), line: 1 },
  { what: 'an unknown match', kind: 'cpu', xml: brokenCpu("match='exact'", "match='loose'"), line: 1 },
  { what: 'zero sockets', kind: 'cpu', xml: brokenCpu("sockets='1'", "sockets='0'"), line: 4 },
  { what: 'negative cores', kind: 'cpu', xml: brokenCpu("cores='2'", "cores='-2'"), line: 4 },
  { what: 'a topology without threads', kind: 'cpu', xml: brokenCpu(" threads='2'", ''), line: 4 },
  { what: 'a feature without a name', kind: 'cpu', xml: brokenCpu(" name='vmx'", ''), line: 5 },
  {
    what: 'a NUMA cell without memory',
    kind: 'cpu',
    xml: brokenCpu(" memory='512' unit='MiB'", ''),
    line: 8,
  },
  { what: 'a bad memory unit', kind: 'cpu', xml: brokenCpu("unit='MiB'", "unit='parsecs'"), line: 8 },
  { what: 'an empty numa element', kind: 'cpu', xml: '<cpu>\n  <numa/>\n</cpu>\n', line: 2 },
  { what: 'an element a CPU never has', kind: 'cpu', xml: "<cpu>\n  <wings count='2'/>\n</cpu>\n", line: 2 },
  {
    what: 'a wrong root element',
    kind: 'cpu',
    xml: '<processor>\n  <model>qemu64</model>\n</processor>\n',
    line: 1,
  },
  {
    what: 'capabilities without a host',
    kind: 'capability',
    xml: '<capabilities>\n  <guest>\n    <os_type>hvm</os_type>\n  </guest>\n</capabilities>\n',
    line: 2,
  },
  {
    what: 'a host without a CPU',
    kind: 'capability',
    xml: '<capabilities>\n  <host>\n    <power_management/>\n  </host>\n</capabilities>\n',
    line: 2,
  },
  {
    what: 'a guest without an arch',
    kind: 'capability',
    xml: virshCaps.replace(/<arch name='i686'>[\s\S]*?<\/arch>/, ''),
    line: lineOf(virshCaps, '<guest>'),
  },
  {
    what: 'an iommu support that is not yes/no',
    kind: 'capability',
    xml: virshCaps.replace("<iommu support='no'/>", "<iommu support='perhaps'/>"),
    line: lineOf(virshCaps, '<iommu'),
  },
  {
    // libxml2 reports this one only at the enclosing host <topology>
    what: 'a NUMA cell id that is not a number',
    kind: 'capability',
    xml: qemuCaps.replace("<cell id='0'>", "<cell id='zero'>"),
    line: lineOf(qemuCaps, '<topology>\n      <cells'),
  },
  {
    what: 'a CPU document given as capabilities (wrong root)',
    kind: 'capability',
    xml: guestCpu,
    line: 1,
  },
];

function lineOf(text: string, needle: string): number {
  const at = text.indexOf(needle);
  expect(at).toBeGreaterThanOrEqual(0);
  return text.slice(0, at).split('\n').length;
}

describe('validate()', () => {
  it.each([
    ['the capabilities virsh prints for test:///default', virshCaps],
    ["the capabilities libvirt's QEMU driver printed on a real host", qemuCaps],
  ])('accepts %s', async (_what, xml) => {
    expect(await validate(xml, 'capability')).toEqual({ valid: true, errors: [] });
  });

  it('accepts a guest CPU with topology, features and NUMA cells, and a host CPU', async () => {
    expect((await validate(guestCpu, 'cpu')).valid).toBe(true);
    const hostCpu = qemuCaps.slice(qemuCaps.indexOf('<cpu>'), qemuCaps.indexOf('</cpu>') + 6);
    expect((await validate(hostCpu, 'cpu')).valid).toBe(true);
  });

  it.each(bad.map((b) => [b.what, b] as const))('rejects %s with the line at fault', async (_what, b) => {
    const result = await validate(b.xml, b.kind);
    expect(result.valid).toBe(false);
    expect(result.errors.map((e) => e.line)).toContain(b.line);
  });

  it("names the cause libxml2 hides inside an interleave, at the element's line", async () => {
    const domain = readFileSync(fixture('domain/web-server.xml'), 'utf8');
    const memory = await validate(
      domain.replace("<memory unit='GiB'>4<", "<memory unit='GiB'>lots<"),
      'domain',
    );
    expect(memory.errors[0]).toEqual({
      line: lineOf(domain, '<memory'),
      message: "Type unsignedLong doesn't allow value 'lots'",
      path: 'memory',
    });
    const cell = await validate(qemuCaps.replace("<cell id='0'>", "<cell id='zero'>"), 'capability');
    expect(cell.errors[0]).toMatchObject({
      line: lineOf(qemuCaps, "<cell id='0'>"),
      message: "Type unsignedInt doesn't allow value 'zero'",
    });
    // the outer report stays, after the cause
    expect(cell.errors.map((e) => e.message)).toContain('Extra element topology in interleave');
  });

  it('reports malformed XML as one error with its line instead of throwing', async () => {
    const result = await validate('<cpu>\n  <model>qemu64</model>\n  <vendor>Intel</cpu>\n', 'cpu');
    expect(result.valid).toBe(false);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]?.line).toBe(3);
  });

  it('refuses a DOCTYPE before libxml2 ever sees it', async () => {
    const xml = `<?xml version="1.0"?>\n<!DOCTYPE cpu [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<cpu><model>&x;</model></cpu>`;
    const result = await validate(xml, 'cpu');
    expect(result.valid).toBe(false);
    expect(result.errors[0]?.line).toBe(2);
    expect(result.errors[0]?.message).toMatch(/DOCTYPE/);
  });

  it('throws INVALID_ARG for a kind it has no schema for', async () => {
    const err = await validate('<cpu/>', 'bogus' as SchemaKind).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VirError);
    expect((err as VirError).code).toBe('INVALID_ARG');
  });

  it('gives the same answers when called concurrently (one compiled schema, reused)', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        validate(i % 2 ? guestCpu : brokenCpu("sockets='1'", "sockets='x'"), 'cpu'),
      ),
    );
    expect(results.map((r) => r.valid)).toEqual(Array.from({ length: 20 }, (_, i) => i % 2 === 1));
  });
});

const XMLLINT = spawnSync('xmllint', ['--version'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!XMLLINT)(
  `xmllint agrees with our verdicts${XMLLINT ? '' : ' (skipped: xmllint not installed)'}`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'virtkit-validate-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const docs: Array<[string, SchemaKind, string]> = [
      ['virsh-caps', 'capability', virshCaps],
      ['qemu-caps', 'capability', qemuCaps],
      ['guest-cpu', 'cpu', guestCpu],
      ...bad.map((b, i): [string, SchemaKind, string] => [`bad-${i}`, b.kind, b.xml]),
    ];
    it.each(docs.filter(([, , xml]) => !xml.includes('DOCTYPE')))('%s', async (name, kind, xml) => {
      const file = join(dir, `${name}.xml`);
      writeFileSync(file, xml);
      const schema = join(REPO_ROOT, 'schemas', kind === 'capability' ? 'capability.rng' : 'cpu.rng');
      const lint = spawnSync('xmllint', ['--noout', '--relaxng', schema, file], { encoding: 'utf8' });
      expect((await validate(xml, kind)).valid).toBe(lint.status === 0);
    });
  },
);

describe.skipIf(!HAS_SHARED)(`libvirt's CPU documents are valid${SHARED_NOTE}`, () => {
  const dir = join(SHARED_DIR, 'cpu/cases');
  const files = HAS_SHARED
    ? readdirSync(dir).filter(
        (f) =>
          f.endsWith('.xml') && /^\s*(<\?xml[^>]*>\s*)?<cpu[\s/>]/.test(readFileSync(join(dir, f), 'utf8')),
      )
    : [];
  it('has CPU documents to check', () => {
    expect(files.length).toBeGreaterThan(100);
  });
  it.each(files)('%s', async (file) => {
    const result = await validate(readFileSync(join(dir, file), 'utf8'), 'cpu');
    expect(result.errors).toEqual([]);
  });
});
