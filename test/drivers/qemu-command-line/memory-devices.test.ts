import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { buildCommandLine, type CommandLinePaths } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { VirError } from '../../../src/errors.js';
import { fixtureCaps } from './caps-fixture.js';

const PATHS: CommandLinePaths = { domainDir: '/run/vk/dom', monitor: { path: '/run/vk/dom/monitor.sock' } };

function define(mems: string, slots = 16): DomainDef {
  const caps = fixtureCaps();
  const xml = `<domain type='qemu'><name>m</name>
    <maxMemory slots='${slots}' unit='KiB'>16777216</maxMemory><memory unit='KiB'>2097152</memory>
    <vcpu placement='static'>2</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
    <cpu><numa><cell id='0' cpus='0-1' memory='1048576'/></numa></cpu>
    <devices>${mems}</devices></domain>`;
  return applyQemuDefaults(DomainDef.fromXML(xml), caps);
}

function argv(mems: string): string[] {
  return buildCommandLine(define(mems), fixtureCaps(), PATHS).argv;
}

const jsonOf = (a: string[], opt: string) =>
  a.flatMap((v, i) =>
    a[i - 1] === opt && v.startsWith('{') ? [JSON.parse(v) as Record<string, unknown>] : [],
  );

function refusal(fn: () => unknown): VirError {
  try {
    fn();
  } catch (e) {
    if (e instanceof VirError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

const nvdimm = (source: string, target = '') => `<memory model='nvdimm' access='private'>
  <source><path>/tmp/nvdimm</path>${source}</source>
  <target><size unit='KiB'>523264</size><node>0</node>${target}</target></memory>`;

describe('memory devices', () => {
  // the shapes of libvirt's memory-hotplug-nvdimm-* and -virtio-pmem cases
  it('backs an NVDIMM with its file, preallocated unless it is real pmem', () => {
    const a = argv(nvdimm('', "<label><size unit='KiB'>128</size></label><readonly/>"));
    expect(jsonOf(a, '-object').find((o) => o.id === 'memnvdimm0')).toEqual({
      'qom-type': 'memory-backend-file',
      id: 'memnvdimm0',
      'mem-path': '/tmp/nvdimm',
      share: false,
      prealloc: true,
      size: 536870912,
    });
    expect(jsonOf(a, '-device').find((d) => d.driver === 'nvdimm')).toEqual({
      driver: 'nvdimm',
      node: 0,
      'label-size': 131072,
      unarmed: true,
      memdev: 'memnvdimm0',
      id: 'nvdimm0',
      slot: 0,
    });
    expect(a[a.indexOf('-machine') + 1]).toContain('nvdimm=on');
    const pmem = jsonOf(argv(nvdimm("<pmem/><alignsize unit='KiB'>2048</alignsize>")), '-object').find(
      (o) => o.id === 'memnvdimm0',
    );
    expect(pmem).toMatchObject({ align: 2097152, pmem: true });
    expect(pmem).not.toHaveProperty('prealloc');
  });

  it('gives DIMMs and NVDIMMs the lowest free slots at define time', () => {
    const def = define(
      `<memory model='dimm'><target><size unit='KiB'>524288</size><node>0</node></target><address type='dimm' slot='0'/></memory>
       <memory model='dimm'><target><size unit='KiB'>524288</size><node>0</node></target></memory>`,
    );
    expect(def.devices?.memories?.map((m) => m.address)).toEqual([
      { type: 'dimm', slot: 0 },
      { type: 'dimm', slot: 1 },
    ]);
  });

  it('plugs virtio-pmem on PCI with its file shared as asked', () => {
    const a = argv(`<memory model='virtio-pmem' access='shared'><source><path>/tmp/pmem</path></source>
      <target><size unit='KiB'>524288</size></target></memory>`);
    expect(jsonOf(a, '-object').find((o) => o.id === 'memvirtiopmem0')).toEqual({
      'qom-type': 'memory-backend-file',
      id: 'memvirtiopmem0',
      'mem-path': '/tmp/pmem',
      share: true,
      size: 536870912,
    });
    expect(jsonOf(a, '-device').find((d) => d.driver === 'virtio-pmem-pci')).toMatchObject({
      memdev: 'memvirtiopmem0',
      id: 'virtiopmem0',
    });
  });

  it('refuses what QEMU cannot take', () => {
    expect(refusal(() => argv(nvdimm('', "<label><size unit='KiB'>64</size></label>"))).field).toBe(
      '/domain/devices/memory[1]/target/label/size',
    );
    expect(
      refusal(() =>
        argv(`<memory model='virtio-pmem'><target><size unit='KiB'>524288</size></target></memory>`),
      ).field,
    ).toBe('/domain/devices/memory[1]/source/path');
    expect(
      refusal(() =>
        argv(`<memory model='dimm'><target><size unit='KiB'>524288</size><node>3</node></target></memory>`),
      ).field,
    ).toBe('/domain/devices/memory[1]/target/node');
    expect(
      refusal(() =>
        argv(
          `<memory model='dimm'><target><size unit='KiB'>524288</size><node>0</node><readonly/></target></memory>`,
        ),
      ).code,
    ).toBe('CONFIG_UNSUPPORTED');
    expect(
      refusal(() =>
        argv(`<memory model='dimm'><target><size unit='EiB'>99999999</size><node>0</node></target></memory>`),
      ).field,
    ).toBe('/domain/devices/memory[1]/target/size');
    const dimm = `<memory model='dimm'><target><size unit='KiB'>524288</size><node>0</node></target></memory>`;
    expect(refusal(() => define(dimm + dimm, 1)).field).toBe('/domain/maxMemory/@slots');
  });
});
