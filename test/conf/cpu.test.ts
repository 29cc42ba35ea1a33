import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuDef } from '../../src/conf/cpu.js';
import { CpuData } from '../../src/conf/cpu-data.js';
import { VirError } from '../../src/errors.js';
import { xmlDiff } from '../../src/xml/equal.js';
import { parseXml } from '../../src/xml/parse.js';
import { childElements } from '../../src/xml/tree.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../shared-data.js';

describe('CpuDef', () => {
  it('reads a guest CPU', () => {
    const cpu = CpuDef.fromXML(`<cpu mode='custom' match='exact' check='partial'>
      <model fallback='forbid' vendor_id='GenuineIntel'>Skylake-Client</model>
      <vendor>Intel</vendor>
      <topology sockets='1' dies='1' clusters='1' cores='4' threads='2'/>
      <feature policy='require' name='vmx'/>
      <feature policy='disable' name='hle'/>
      <numa><cell id='0' cpus='0-3' memory='1' unit='GiB' memAccess='shared'/></numa>
    </cpu>`);
    expect(cpu.mode).toBe('custom');
    expect(cpu.match).toBe('exact');
    expect(cpu.model).toEqual({ fallback: 'forbid', vendorId: 'GenuineIntel', name: 'Skylake-Client' });
    expect(cpu.topology).toEqual({ sockets: 1, dies: 1, clusters: 1, cores: 4, threads: 2 });
    expect(cpu.features).toEqual([
      { policy: 'require', name: 'vmx' },
      { policy: 'disable', name: 'hle' },
    ]);
    // 1 GiB is 1048576 KiB; libvirt writes NUMA memory in KiB.
    expect(cpu.numa?.cells?.[0]).toMatchObject({
      id: 0,
      cpus: '0-3',
      memory: 1048576n,
      unit: 'KiB',
      memAccess: 'shared',
    });
    expect(cpu.isHostStyle).toBe(false);
  });

  it("writes libvirt's element and attribute order", () => {
    const cpu = new CpuDef({
      mode: 'custom',
      match: 'exact',
      model: { name: 'Penryn', fallback: 'allow' },
      features: [{ name: 'sse4.2', policy: 'require' }],
      topology: { sockets: 1, cores: 2, threads: 1 },
    });
    expect(cpu.toXML()).toBe(
      "<cpu mode='custom' match='exact'>\n  <model fallback='allow'>Penryn</model>\n  <topology sockets='1' dies='1' clusters='1' cores='2' threads='1'/>\n  <feature policy='require' name='sse4.2'/>\n</cpu>\n",
    );
  });

  it.each([
    [
      'an unknown policy',
      "<cpu>\n<feature policy='sometimes' name='x'/></cpu>",
      '/cpu/feature[1]/@policy',
      2,
    ],
    ['an unknown mode', "<cpu mode='guess'/>", '/cpu/@mode', 1],
    [
      'a zero socket count',
      "<cpu>\n\n<topology sockets='0' cores='1' threads='1'/></cpu>",
      '/cpu/topology/@sockets',
      3,
    ],
    [
      'a non-numeric core count',
      "<cpu><topology sockets='1' cores='two' threads='1'/></cpu>",
      '/cpu/topology/@cores',
      1,
    ],
    [
      'a topology without threads',
      "<cpu><topology sockets='1' cores='1'/></cpu>",
      '/cpu/topology/@threads',
      1,
    ],
    ['a feature without a name', "<cpu><feature policy='require'/></cpu>", '/cpu/feature[1]/@name', 1],
    [
      'a duplicate feature',
      "<cpu><feature name='a'/>\n<feature name='a'/></cpu>",
      "/cpu/feature[@name='a']",
      1,
    ],
    [
      'NUMA memory in an unknown unit',
      "<cpu><numa><cell id='0' memory='1' unit='furlongs'/></numa></cpu>",
      '/cpu/numa/cells',
      1,
    ],
  ])('rejects %s, naming the field', (_what, xml, field, line) => {
    try {
      CpuDef.fromXML(xml);
      expect.unreachable('should have thrown');
    } catch (err) {
      expect(err).toBeInstanceOf(VirError);
      expect((err as VirError).code).toBe('XML_DETAIL');
      expect((err as VirError).field?.startsWith(field.replace(/\/cells$/, ''))).toBe(true);
      expect((err as VirError).line).toBe(line);
    }
  });

  it('writes an empty model name as an empty element, so the output reads back to itself', () => {
    // found by the DomainDef mutation property: '' formatted as <model></model> read back as absent
    const cpu = CpuDef.fromXML("<cpu mode='custom'><model fallback='forbid'>qemu64</model></cpu>");
    if (cpu.model) cpu.model.name = '';
    const out = cpu.toXML();
    expect(out).toContain("<model fallback='forbid'/>");
    expect(CpuDef.fromXML(out).toXML()).toBe(out);
  });

  it('handles a CPU with 10,000 features', () => {
    const xml = `<cpu><model>x</model>${Array.from({ length: 10_000 }, (_, i) => `<feature name='f${i}'/>`).join('')}</cpu>`;
    const cpu = CpuDef.fromXML(xml);
    expect(cpu.features).toHaveLength(10_000);
    expect(xmlDiff(xml, cpu.toXML())).toBeUndefined();
  });
});

describe.skipIf(!HAS_SHARED)(`CPU XML round trip of libvirt's cputest data${SHARED_NOTE}`, () => {
  const dir = join(SHARED_DIR, 'cpu/cases');
  const files = HAS_SHARED ? readdirSync(dir).filter((f) => f.endsWith('.xml')) : [];
  it.each(files)('%s', (file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const root = parseXml(text);
    if (root.name === 'cpudata') {
      expect(xmlDiff(text, CpuData.fromXML(text).toXML())).toBeUndefined();
      return;
    }
    const cpus = root.name === 'cpuTest' ? childElements(root, 'cpu') : [root];
    expect(cpus.length).toBeGreaterThan(0);
    for (const el of cpus) {
      const formatted = CpuDef.fromElement(el).toXML();
      // libvirt's parser gives a topology without dies/clusters 1 of each, and formats them.
      for (const t of childElements(el, 'topology')) {
        for (const name of ['dies', 'clusters']) {
          if (!t.attrs.some((a) => a.name === name)) t.attrs.push({ name, value: '1' });
        }
      }
      expect(xmlDiff(el, formatted)).toBeUndefined();
    }
  });
});

describe('CPU topology defaults', () => {
  it('gives a topology without dies or clusters one of each, and writes all five counts', () => {
    const cpu = CpuDef.fromXML("<cpu><topology sockets='2' cores='4' threads='1'/></cpu>");
    expect(cpu.topology).toEqual({ sockets: 2, dies: 1, clusters: 1, cores: 4, threads: 1 });
    expect(cpu.toXML()).toBe(
      "<cpu>\n  <topology sockets='2' dies='1' clusters='1' cores='4' threads='1'/>\n</cpu>\n",
    );
  });

  it('keeps counts that are given', () => {
    const cpu = CpuDef.fromXML(
      "<cpu><topology sockets='1' dies='2' clusters='3' cores='4' threads='2'/></cpu>",
    );
    expect(cpu.topology).toEqual({ sockets: 1, dies: 2, clusters: 3, cores: 4, threads: 2 });
  });

  it('refuses a zero count, naming the attribute', () => {
    expect(() => CpuDef.fromXML("<cpu><topology sockets='1' dies='0' cores='1' threads='1'/></cpu>")).toThrow(
      /dies/,
    );
  });
});

describe('CPU topology built in code', () => {
  it('is written with dies and clusters, as libvirt always writes them', () => {
    const cpu = new CpuDef({ topology: { sockets: 1, cores: 2, threads: 2 } });
    expect(cpu.toXML()).toBe(
      "<cpu>\n  <topology sockets='1' dies='1' clusters='1' cores='2' threads='2'/>\n</cpu>\n",
    );
    const dies = new CpuDef({ topology: { sockets: 1, dies: 2, cores: 2, threads: 1 } });
    expect(dies.toXML()).toContain("<topology sockets='1' dies='2' clusters='1' cores='2' threads='1'/>");
  });
});
