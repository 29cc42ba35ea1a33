/**
 * Metadata and disk I/O limits on the QEMU driver with real QEMU (TCG, a
 * diskless-booting SeaBIOS guest with one raw disk, every root in a
 * temporary directory): the limits QEMU itself reports (`query-block`)
 * after `setBlockIoTune`, the live and persistent XML, the events, and
 * refusals that leave both definitions as they were.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/connection.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE } from '../qemu-lifecycle/helpers.js';
import { rootsEachTest } from '../real-guest.js';

const each = rootsEachTest('vk-tunables-');
const open = (): Promise<Connection> => each.connect();

function xml(name: string): string {
  const image = join(each.path, `${name}.img`);
  writeFileSync(image, Buffer.alloc(1024 * 1024));
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${image}'/><target dev='vda' bus='virtio'/></disk>
  </devices>
</domain>`;
}

async function nextOf<T>(it: AsyncIterator<T>, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms);
  });
  try {
    const r = await Promise.race([it.next(), timeout]);
    if (r.done) throw new Error('stream ended');
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}

interface QueryBlock {
  qdev?: string;
  inserted?: Record<string, unknown>;
}

describe.skipIf(!HAS_QEMU)(`QEMU driver metadata and block I/O tuning${QEMU_NOTE}`, () => {
  it('keeps metadata in the persistent and the live definition, with metadata-change events', async () => {
    const conn = await open();
    const events = conn.events({ ids: ['metadata-change'] })[Symbol.asyncIterator]();
    const dom = await conn.defineDomain(xml('vk-tunables-md'));
    // inactive: current is the persistent definition
    await dom.setMetadata('title', 'persistent title');
    await dom.setMetadata('element', '<app><v>1</v></app>', { key: 'vk', uri: 'urn:virtkit:t' });
    expect(await nextOf(events)).toMatchObject({ type: 'metadata-change', kind: 'title' });
    expect(await nextOf(events)).toMatchObject({ kind: 'element', nsuri: 'urn:virtkit:t' });
    // on disk: a new connection on the same roots reads it back
    const again = await open();
    const d2 = await again.lookupDomain('vk-tunables-md');
    expect(await d2.getMetadata('title')).toBe('persistent title');
    expect(await d2.getMetadata('element', { uri: 'urn:virtkit:t' })).toBe('<app>\n  <v>1</v>\n</app>');
    await again.close();
    await dom.start();
    await expect(
      dom.setMetadata('title', 'x', { live: true, config: false, key: 'k' }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'key',
    });
    await dom.setMetadata('description', 'live only');
    expect(await nextOf(events)).toMatchObject({ kind: 'description' });
    expect(await dom.getMetadata('description')).toBe('live only');
    expect(await dom.getXML()).toContain('<description>live only</description>');
    await expect(dom.getMetadata('description', { config: true })).rejects.toMatchObject({
      code: 'NO_DOMAIN_METADATA',
    });
    await expect(dom.getMetadata('title', { live: true, config: true })).rejects.toMatchObject({
      code: 'INVALID_ARG',
    });
    await dom.destroy();
    // the live-only description went with the guest
    await expect(dom.getMetadata('description')).rejects.toMatchObject({ code: 'NO_DOMAIN_METADATA' });
    expect(await dom.getMetadata('title')).toBe('persistent title');
  });

  it('sets I/O limits QEMU reports, in the live and persistent XML, with a tunable event', async () => {
    const conn = await open();
    const events = conn.events({ ids: ['tunable'] })[Symbol.asyncIterator]();
    const dom = await conn.defineDomain(xml('vk-tunables-io'));
    await dom.start();
    await dom.setBlockIoTune('vda', {
      total_bytes_sec: 1_000_000,
      read_iops_sec: 200,
      read_iops_sec_max: 400,
    });
    const ev = await nextOf(events);
    expect(ev).toMatchObject({
      type: 'tunable',
      params: {
        'blkdeviotune.disk': 'vda',
        'blkdeviotune.total_bytes_sec': 1_000_000n,
        'blkdeviotune.read_iops_sec': 200n,
        'blkdeviotune.read_iops_sec_max': 400n,
      },
    });
    const blocks = (await dom.qemuMonitorCommand({ execute: 'query-block' })) as { return: QueryBlock[] };
    const vda = blocks.return.find((b) => b.qdev?.includes('virtio-disk0'));
    expect(vda?.inserted).toMatchObject({
      bps: 1_000_000,
      bps_rd: 0,
      iops_rd: 200,
      iops_rd_max: 400,
      iops: 0,
    });
    const tune = await dom.getBlockIoTune('vda');
    expect(tune).toMatchObject({
      total_bytes_sec: 1_000_000,
      read_iops_sec: 200,
      read_iops_sec_max: 400,
      group_name: '',
    });
    expect(await dom.getXML()).toContain('<total_bytes_sec>1000000</total_bytes_sec>');
    expect(await dom.getXML({ inactive: true })).not.toContain('<iotune>');
    // a family given replaces all of it: read_bytes_sec replaces total_bytes_sec
    await dom.setBlockIoTune('vda', { read_bytes_sec: 5000 }, { live: true, config: true });
    await nextOf(events);
    const after = (await dom.qemuMonitorCommand({ execute: 'query-block' })) as { return: QueryBlock[] };
    expect(after.return.find((b) => b.qdev?.includes('virtio-disk0'))?.inserted).toMatchObject({
      bps: 0,
      bps_rd: 5000,
      iops_rd: 200,
    });
    expect(await dom.getBlockIoTune('vda', { config: true })).toMatchObject({
      read_bytes_sec: 5000,
      read_iops_sec: 0,
    });
    // refusals: nothing changes
    await expect(dom.setBlockIoTune('vdz', { read_bytes_sec: 1 })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'disk',
    });
    await expect(dom.setBlockIoTune('vda', { read_iops_sec: 500 })).rejects.toMatchObject({
      code: 'CONFIG_UNSUPPORTED',
      field: 'read_iops_sec',
    });
    await expect(dom.setBlockIoTune('vda', { total_iops_sec: 5, read_iops_sec: 5 })).rejects.toMatchObject({
      code: 'CONFIG_UNSUPPORTED',
    });
    expect(await dom.getBlockIoTune('vda')).toMatchObject({ read_bytes_sec: 5000, read_iops_sec: 200 });
    // all zero lifts every limit in QEMU too
    await dom.setBlockIoTune('vda', { read_bytes_sec: 0, read_iops_sec: 0, read_iops_sec_max: 0 });
    const cleared = (await dom.qemuMonitorCommand({ execute: 'query-block' })) as { return: QueryBlock[] };
    expect(cleared.return.find((b) => b.qdev?.includes('virtio-disk0'))?.inserted).toMatchObject({
      bps_rd: 0,
      iops_rd: 0,
    });
    expect(await dom.getXML()).not.toContain('<iotune>');
    // the persistent limits reach QEMU at the next start
    await dom.destroy();
    await dom.start();
    const restarted = (await dom.qemuMonitorCommand({ execute: 'query-block' })) as { return: QueryBlock[] };
    expect(restarted.return.find((b) => b.qdev?.includes('virtio-disk0'))?.inserted).toMatchObject({
      bps_rd: 5000,
    });
  });
});
