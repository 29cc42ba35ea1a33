/**
 * I/O threads and disk throttling on the command line. Expected values
 * follow libvirt 11.3's qemuxmlconf data (iothreads-ids-partial,
 * iothreads-ids-pool-sizes, iothreads-disk, throttlefilter); the QMP
 * target of `<iotune>` and the object properties were checked against
 * qemu-system-x86_64 7.2 (`block_set_io_throttle` on
 * `/machine/peripheral/<alias>/virtio-backend`).
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import type { QemuCapabilityFlag } from '../../../src/drivers/qemu/probe/index.js';
import { VirError } from '../../../src/errors.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

const paths = { domainDir: '/var/lib/x', monitor: { path: '/var/lib/x/monitor.sock' } };
const ALL_FLAGS: QemuCapabilityFlag[] = [
  'iothread.thread-pool-max',
  'virtio-blk.iothread-mapping',
  'virtio-scsi.iothread-mapping',
];

function guest(top: string, devices = ''): DomainDef {
  const xml = tinyDomainXml({ devices }).replace('<vcpu>1</vcpu>', `<vcpu>1</vcpu>${top}`);
  return DomainDef.fromXML(xml);
}

function build(def: DomainDef, flags: QemuCapabilityFlag[] = ALL_FLAGS) {
  const caps = fixtureCaps({ flags });
  return buildCommandLine(applyQemuDefaults(def, caps), caps, paths);
}

function objects(argv: string[], type: string): Array<Record<string, unknown>> {
  return argv
    .filter((a, i) => argv[i - 1] === '-object' && a.startsWith('{'))
    .map((a) => JSON.parse(a) as Record<string, unknown>)
    .filter((o) => o['qom-type'] === type);
}

function refusal(f: () => unknown): VirError {
  try {
    f();
  } catch (e) {
    if (e instanceof VirError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

const disk = (extra: string, driver = "<driver name='qemu' type='raw'/>", bus = 'virtio', dev = 'vda') =>
  `<disk type='file' device='disk'>${driver}<source file='/d-${dev}.img'/><target dev='${dev}' bus='${bus}'/>${extra}</disk>`;

describe('I/O thread ids', () => {
  it('fills the ids missing up to <iothreads> after the listed ones, and writes them back', () => {
    const def = guest(
      "<iothreads>4</iothreads><iothreadids><iothread id='5'/><iothread id='6'/></iothreadids>",
    );
    expect(def.iothreadIds?.iothreads?.map((t) => t.id)).toEqual([5, 6, 1, 2]);
    expect(def.toXML()).toContain("<iothread id='1'/>");
    const ids = objects(build(def).argv, 'iothread').map((o) => o.id);
    expect(ids).toEqual(['iothread5', 'iothread6', 'iothread1', 'iothread2']);
  });

  it('numbers a bare count from 1 and raises the count to the ids listed', () => {
    expect(objects(build(guest('<iothreads>2</iothreads>')).argv, 'iothread').map((o) => o.id)).toEqual([
      'iothread1',
      'iothread2',
    ]);
    const def = guest("<iothreadids><iothread id='3'/></iothreadids>");
    expect(def.iothreads).toBe(1);
  });

  it('writes worker pools and polling as QEMU names them, then the main loop', () => {
    const def = guest(
      "<iothreads>2</iothreads><iothreadids><iothread id='2' thread_pool_min='0' thread_pool_max='60'/>" +
        "<iothread id='1'><poll max='123' grow='456' shrink='789'/></iothread></iothreadids>" +
        "<defaultiothread thread_pool_min='8' thread_pool_max='16'/>",
    );
    const { argv } = build(def);
    expect(objects(argv, 'iothread')).toEqual([
      { 'qom-type': 'iothread', id: 'iothread2', 'thread-pool-min': 0, 'thread-pool-max': 60 },
      { 'qom-type': 'iothread', id: 'iothread1', 'poll-max-ns': 123, 'poll-grow': 456, 'poll-shrink': 789 },
    ]);
    expect(objects(argv, 'main-loop')).toEqual([
      { 'qom-type': 'main-loop', id: 'main-loop', 'thread-pool-min': 8, 'thread-pool-max': 16 },
    ]);
    // right after -smp, as libvirt writes them
    expect(argv[argv.indexOf('-smp') + 2]).toBe('-object');
  });

  it('refuses pools QEMU cannot size and bounds libvirt rejects', () => {
    const pool = "<iothreads>1</iothreads><iothreadids><iothread id='1' thread_pool_max='4'/></iothreadids>";
    expect(refusal(() => build(guest(pool), [])).code).toBe('CONFIG_UNSUPPORTED');
    const bad =
      "<iothreads>1</iothreads><iothreadids><iothread id='1' thread_pool_min='5' thread_pool_max='4'/></iothreadids>";
    expect(refusal(() => build(guest(bad))).field).toBe('/domain/iothreadids/iothread[1]/@thread_pool_min');
  });
});

describe('I/O thread mapping', () => {
  const mapped =
    "<driver name='qemu' type='raw' queues='4'><iothreads><iothread id='2'><queue id='1'/><queue id='3'/></iothread>" +
    "<iothread id='1'><queue id='0'/><queue id='2'/></iothread></iothreads></driver>";

  it('maps virtio-blk queues to threads (iothreads-disk)', () => {
    const dev = build(guest('<iothreads>2</iothreads>', disk('', mapped))).argv.find((a) =>
      a.includes('virtio-blk-pci'),
    );
    expect(dev).toContain(
      '"num-queues":4,"iothread-vq-mapping":[{"iothread":"iothread2","vqs":[1,3]},{"iothread":"iothread1","vqs":[0,2]}]',
    );
  });

  it('refuses unknown threads, unmapped queues and a QEMU without the property', () => {
    expect(refusal(() => build(guest('<iothreads>1</iothreads>', disk('', mapped)))).message).toMatch(
      /I\/O thread 2/,
    );
    const partial = mapped.replace("<queue id='3'/>", '');
    expect(refusal(() => build(guest('<iothreads>2</iothreads>', disk('', partial)))).message).toMatch(
      /queue 3/,
    );
    expect(refusal(() => build(guest('<iothreads>2</iothreads>', disk('', mapped)), [])).field).toBe(
      '/domain/devices/disk[1]/driver/iothreads',
    );
  });

  it('refuses an I/O thread on a disk that cannot use one', () => {
    const e = refusal(() =>
      build(
        guest(
          '<iothreads>1</iothreads>',
          disk('', "<driver name='qemu' type='raw' iothread='1'/>", 'sata', 'sda'),
        ),
      ),
    );
    expect(e.field).toBe('/domain/devices/disk[1]/driver/@iothread');
  });
});

describe('throttling', () => {
  const groups =
    '<throttlegroups><throttlegroup><total_bytes_sec>4000</total_bytes_sec><group_name>limit0</group_name></throttlegroup>' +
    '<throttlegroup><read_iops_sec>7000</read_iops_sec><group_name>lim,x</group_name></throttlegroup></throttlegroups>';
  const filters =
    "<throttlefilters><throttlefilter group='limit0'/><throttlefilter group='lim,x'/></throttlefilters>";

  it('builds throttle groups and stacks the filters on the top node (throttlefilter)', () => {
    const { argv } = build(guest(groups, disk(filters)));
    const g = objects(argv, 'throttle-group');
    expect(g.map((o) => o.id)).toEqual(['throttle-limit0', 'throttle-lim,x']);
    expect(g[0]?.limits).toMatchObject({ 'bps-total': 4000, 'iops-total': 0, 'iops-size': 0 });
    expect(argv).toContain(
      '{"driver":"throttle","node-name":"libvirt-2-filter","throttle-group":"throttle-limit0","file":"libvirt-1-storage"}',
    );
    expect(argv).toContain(
      '{"driver":"throttle","node-name":"libvirt-3-filter","throttle-group":"throttle-lim,x","file":"libvirt-2-filter"}',
    );
    expect(argv.find((a) => a.includes('virtio-blk-pci'))).toContain('"drive":"libvirt-3-filter"');
  });

  it('refuses a filter naming no group, and filters with <iotune>', () => {
    const lone = "<throttlefilters><throttlefilter group='nope'/></throttlefilters>";
    expect(refusal(() => build(guest(groups, disk(lone)))).field).toBe(
      '/domain/devices/disk[1]/throttlefilters/throttlefilter[1]/@group',
    );
    const both = `<iotune><total_iops_sec>5</total_iops_sec></iotune>${filters}`;
    expect(refusal(() => build(guest(groups, disk(both)))).code).toBe('CONFIG_UNSUPPORTED');
  });

  it('sets <iotune> over QMP before the CPUs start, against the virtio backend', () => {
    const tune =
      '<iotune><total_bytes_sec>10000000</total_bytes_sec><read_iops_sec>400000</read_iops_sec><group_name>g1</group_name></iotune>';
    const cl = build(guest('', disk(tune)));
    expect(cl.argv.join(' ')).not.toContain('10000000');
    expect(cl.monitorCommands).toEqual([
      {
        execute: 'block_set_io_throttle',
        arguments: {
          id: '/machine/peripheral/virtio-disk0/virtio-backend',
          bps: 10000000,
          bps_rd: 0,
          bps_wr: 0,
          iops: 0,
          iops_rd: 400000,
          iops_wr: 0,
          bps_max: 0,
          bps_rd_max: 0,
          bps_wr_max: 0,
          iops_max: 0,
          iops_rd_max: 0,
          iops_wr_max: 0,
          iops_size: 0,
          group: 'g1',
        },
      },
    ]);
  });

  it('refuses limits above what QEMU takes', () => {
    const tune = '<iotune><total_bytes_sec>1000000000000001</total_bytes_sec></iotune>';
    expect(refusal(() => build(guest('', disk(tune)))).field).toBe(
      '/domain/devices/disk[1]/iotune/total_bytes_sec',
    );
  });
});
