/**
 * Block I/O parameters on the QEMU driver with real QEMU (TCG, a diskless
 * SeaBIOS guest, every root in a temporary directory). As root under
 * qemu:///system each guest gets its own v1 blkio group: the test finds it
 * from the kernel's own account (`/proc/<pid>/cgroup`) and reads the group's
 * files back after the start (`<blkiotune>`) and after each change. Which
 * weight files a group has is the kernel's fact (its I/O schedulers): the
 * test reads it from a group it makes itself and expects libvirt's refusal
 * where there is none. Under qemu:///session the calls are refused as
 * libvirt refuses them.
 */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/connection.js';
import { cgroupHost } from '../../../src/drivers/qemu/lifecycle/cgroup.js';
import { HAS_QEMU, QEMU_NOTE, qemuProcessesMentioning } from '../qemu-lifecycle/helpers.js';
import { rootsEachTest } from '../real-guest.js';
import { tunedGuestXml, v1Group } from './cgroup-guest.js';

const ROOT = process.getuid?.() === 0;
const HOST = cgroupHost();
const BLKIO = ROOT && HOST?.dirs.blkio !== undefined;

/** The files a fresh blkio group has on this kernel, from a group made for the purpose. */
function groupFiles(): Set<string> {
  const dir = join(HOST?.dirs.blkio as string, `vk-probe-${process.pid}`);
  mkdirSync(dir);
  try {
    return new Set(readdirSync(dir));
  } finally {
    rmdirSync(dir);
  }
}
const FILES = BLKIO ? groupFiles() : new Set<string>();
const WEIGHT_FILE = ['blkio.bfq.weight', 'blkio.weight'].find((f) => FILES.has(f));
const DEVICE_WEIGHT = FILES.has('blkio.weight_device');

/** A block device of this host with its `major:minor` (the kernel's, from sysfs). */
function blockDevice(): { path: string; dev: string } | undefined {
  for (const name of readdirSync('/sys/block')) {
    const path = `/dev/${name}`;
    try {
      if (!statSync(path).isBlockDevice()) continue;
    } catch {
      continue;
    }
    return { path, dev: readFileSync(`/sys/block/${name}/dev`, 'utf8').trim() };
  }
  return undefined;
}
const DEVICE = blockDevice();

/**
 * What the kernel keeps of a throttle line `dev value` in a fresh group of its own (the
 * value read back, 0 when it keeps no rule), from a group made for the purpose.
 */
function keptThrottle(file: string, dev: string, value: number): number {
  const dir = join(HOST?.dirs.blkio as string, `vk-probe-${process.pid}-kept`);
  mkdirSync(dir);
  try {
    writeFileSync(join(dir, file), `${dev} ${value}`);
    const line = readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${dev} `));
    return line ? Number(line.split(/\s+/)[1]) : 0;
  } finally {
    rmdirSync(dir);
  }
}

const WHY = !HAS_QEMU
  ? QEMU_NOTE
  : !ROOT
    ? ' (skipped: needs root for qemu:///system)'
    : !BLKIO
      ? ' (skipped: no writable cgroup v1 blkio controller on this host)'
      : !DEVICE
        ? ' (skipped: no block device on this host)'
        : '';

const each = rootsEachTest('vk-blkio-');
const open = (mode: 'system' | 'session'): Promise<Connection> => each.connect(`qemu:///${mode}`);

const NAME = `vk-blkio-${process.pid}`;

const xml = (tunes = ''): string => tunedGuestXml(NAME, 1, tunes);

/** QEMU's blkio group, from the kernel's `/proc/<pid>/cgroup`. */
function blkioGroup(): string {
  const [pid] = qemuProcessesMentioning(each.path);
  if (pid === undefined) throw new Error('no QEMU');
  const dir = v1Group(`/proc/${pid}`, 'blkio');
  expect(dir).toMatch(new RegExp(`/machine/qemu-\\d+-${NAME}-${pid}\\.libvirt-qemu$`));
  return dir;
}

function read(dir: string, file: string): string {
  return readFileSync(join(dir, file), 'utf8').trim();
}

const EMPTY = {
  device_weight: '',
  device_read_iops_sec: '',
  device_write_iops_sec: '',
  device_read_bytes_sec: '',
  device_write_bytes_sec: '',
};

describe.skipIf(WHY !== '')(`QEMU driver block I/O parameters in cgroups${WHY}`, () => {
  const dev = DEVICE as { path: string; dev: string };

  it('applies <blkiotune> throttles at start, changes them live, and reads the group back', async () => {
    const conn = await open('system');
    const dom = await conn.defineDomain(
      xml(
        `<blkiotune><device><path>${dev.path}</path><read_iops_sec>300</read_iops_sec><write_bytes_sec>1048576</write_bytes_sec></device></blkiotune>`,
      ),
    );
    await dom.start();
    const g = blkioGroup();
    expect(read(g, 'blkio.throttle.read_iops_device')).toBe(`${dev.dev} 300`);
    expect(read(g, 'blkio.throttle.write_bps_device')).toBe(`${dev.dev} 1048576`);
    expect(read(g, 'blkio.throttle.write_iops_device')).toBe('');

    const params = await dom.getBlkioParameters();
    expect(params).toMatchObject({
      ...EMPTY,
      device_read_iops_sec: `${dev.path},300`,
      device_write_bytes_sec: `${dev.path},1048576`,
    });
    // the weight is the group's, as the kernel has it
    if (WEIGHT_FILE) expect(params.weight).toBe(Number(/(\d+)$/.exec(read(g, WEIGHT_FILE))?.[1]));

    await dom.setBlkioParameters({
      device_write_iops_sec: `${dev.path},50`,
      device_read_iops_sec: `${dev.path},0`,
    });
    expect(read(g, 'blkio.throttle.write_iops_device')).toBe(`${dev.dev} 50`);
    expect(read(g, 'blkio.throttle.read_iops_device')).toBe('');
    expect(await dom.getBlkioParameters()).toMatchObject({
      device_read_iops_sec: '',
      device_write_iops_sec: `${dev.path},50`,
      device_write_bytes_sec: `${dev.path},1048576`,
    });
    expect(await dom.getXML()).toContain('<write_iops_sec>50</write_iops_sec>');
    // live only: the persistent definition keeps its values
    expect(await dom.getBlkioParameters({ config: true })).toMatchObject({
      device_read_iops_sec: `${dev.path},300`,
      device_write_iops_sec: '',
    });

    if (WEIGHT_FILE) {
      await dom.setBlkioParameters({ weight: 700 });
      expect(read(g, WEIGHT_FILE)).toMatch(/(^|\s)700$/);
      expect((await dom.getBlkioParameters()).weight).toBe(700);
    } else
      await expect(dom.setBlkioParameters({ weight: 700 })).rejects.toMatchObject({
        code: 'OPERATION_INVALID',
        message: expect.stringContaining('blkio device weight is valid only for bfq or cfq scheduler'),
      });
    if (DEVICE_WEIGHT) {
      await dom.setBlkioParameters({ device_weight: `${dev.path},300` });
      expect(read(g, 'blkio.weight_device')).toContain(`${dev.dev} 300`);
    }
    // libvirt writes per-device weights only where CFQ has them
    else
      await expect(dom.setBlkioParameters({ device_weight: `${dev.path},300` })).rejects.toMatchObject({
        code: 'OPERATION_INVALID',
        message: expect.stringContaining('blkio device weight is valid only for cfq scheduler'),
      });

    // refusals change nothing: not a block device, a list libvirt cannot parse
    const before = await dom.getXML();
    await expect(
      dom.setBlkioParameters({ device_read_bytes_sec: `${dev.path},10,/dev/null,10` }),
    ).rejects.toMatchObject({
      code: 'SYSTEM_ERROR',
      message: expect.stringContaining("'/dev/null' must be a block device"),
    });
    await expect(dom.setBlkioParameters({ device_read_bytes_sec: `${dev.path},x` })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'device_read_bytes_sec',
    });
    expect(read(g, 'blkio.throttle.read_bps_device')).toBe('');
    expect(await dom.getXML()).toBe(before);

    // config only, while it runs
    await dom.setBlkioParameters({ device_read_bytes_sec: `${dev.path},4096` }, { config: true });
    expect(read(g, 'blkio.throttle.read_bps_device')).toBe('');
    expect(await dom.getXML({ inactive: true })).toContain('<read_bytes_sec>4096</read_bytes_sec>');
  });

  it("keeps in the live definition what the kernel kept of each device's throttles at start", async () => {
    // the largest IOPS value libvirt takes (32 bits) is the kernel's "no limit": learn what it keeps
    const huge = 4294967295;
    const kept = keptThrottle('blkio.throttle.read_iops_device', dev.dev, huge);
    const conn = await open('system');
    const dom = await conn.defineDomain(
      xml(
        `<blkiotune><device><path>${dev.path}</path><read_iops_sec>${huge}</read_iops_sec><write_iops_sec>300</write_iops_sec></device></blkiotune>`,
      ),
    );
    await dom.start();
    const g = blkioGroup();
    expect(read(g, 'blkio.throttle.read_iops_device')).toBe(kept === 0 ? '' : `${dev.dev} ${kept}`);
    expect(read(g, 'blkio.throttle.write_iops_device')).toBe(`${dev.dev} 300`);
    // libvirt 9.0 reads each device value back into the live definition at start (a value
    // of 0 is not formatted); the persistent definition keeps what was asked
    const live = await dom.getXML();
    if (kept === 0) expect(live).not.toContain('<read_iops_sec>');
    else expect(live).toContain(`<read_iops_sec>${kept}</read_iops_sec>`);
    expect(live).toContain('<write_iops_sec>300</write_iops_sec>');
    expect(await dom.getBlkioParameters()).toMatchObject({
      device_read_iops_sec: kept === 0 ? '' : `${dev.path},${kept}`,
      device_write_iops_sec: `${dev.path},300`,
    });
    expect(await dom.getXML({ inactive: true })).toContain(`<read_iops_sec>${huge}</read_iops_sec>`);
    // the status file has the live definition: a second connection on the same roots re-attaches it
    const again = await open('system');
    expect(await (await again.lookupDomain(NAME)).getXML()).toBe(live);
  });

  it('refuses a start whose <blkiotune> the host cannot apply, and one naming no block device', async () => {
    const conn = await open('system');
    const dom = await conn.defineDomain(
      xml(`<blkiotune><device><path>/dev/null</path><read_iops_sec>5</read_iops_sec></device></blkiotune>`),
    );
    await expect(dom.start()).rejects.toMatchObject({ code: 'SYSTEM_ERROR' });
    expect(qemuProcessesMentioning(each.path)).toEqual([]);
    expect((await dom.getState()).state).toBe('shutoff');
    await dom.undefine();
    const weighted = await conn.defineDomain(xml('<blkiotune><weight>400</weight></blkiotune>'));
    if (WEIGHT_FILE) {
      await weighted.start();
      expect(read(blkioGroup(), WEIGHT_FILE)).toMatch(/(^|\s)400$/);
    } else {
      await expect(weighted.start()).rejects.toMatchObject({ code: 'OPERATION_INVALID' });
      expect(qemuProcessesMentioning(each.path)).toEqual([]);
    }
  });

  it('changes the persistent definition of an inactive guest, and refuses live', async () => {
    const conn = await open('system');
    const dom = await conn.defineDomain(xml());
    expect(await dom.getBlkioParameters()).toEqual({ weight: 0, ...EMPTY });
    await expect(dom.setBlkioParameters({ weight: 100 }, { live: true })).rejects.toMatchObject({
      code: 'OPERATION_INVALID',
    });
    await dom.setBlkioParameters({ weight: 100, device_read_iops_sec: '/dev/sda,10,/dev/sdb,20' });
    expect(await dom.getBlkioParameters()).toEqual({
      weight: 100,
      ...EMPTY,
      device_read_iops_sec: '/dev/sda,10,/dev/sdb,20',
    });
    // on disk: another connection on the same roots reads it back
    const again = await open('system');
    expect(await (await again.lookupDomain(NAME)).getXML()).toMatch(
      /<blkiotune>\s*<weight>100<\/weight>\s*<device>\s*<path>\/dev\/sda<\/path>\s*<read_iops_sec>10<\/read_iops_sec>/,
    );
  });
});

describe.skipIf(!HAS_QEMU)(`QEMU driver block I/O parameters in session mode${QEMU_NOTE}`, () => {
  it("refuses the calls with libvirt's code, and the element at start naming it", async () => {
    const conn = await open('session');
    const dom = await conn.defineDomain(xml('<blkiotune><weight>500</weight></blkiotune>'));
    await expect(dom.getBlkioParameters()).rejects.toMatchObject({
      code: 'CONFIG_UNSUPPORTED',
      message: expect.stringContaining('Block I/O tuning is not available in session mode'),
    });
    await expect(dom.setBlkioParameters({ weight: 500 })).rejects.toMatchObject({
      code: 'CONFIG_UNSUPPORTED',
    });
    await expect(dom.start()).rejects.toMatchObject({
      code: 'CONFIG_UNSUPPORTED',
      field: '/domain/blkiotune',
    });
    expect(qemuProcessesMentioning(each.path)).toEqual([]);
  });
});
