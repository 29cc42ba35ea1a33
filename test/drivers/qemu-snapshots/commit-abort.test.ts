/**
 * Aborting the delete of an external snapshot of a running guest while its
 * `block-commit` runs: the job is cancelled and everything stays as it was
 * (the snapshot, its metadata, the chain, the disk on the overlay), as an
 * aborted delete leaves it in libvirt; a second delete then merges.
 *
 * The commit is held still, not raced: a throttle filter (its own throttle
 * group, a few read requests a second) is put below the overlay's format
 * node through a second QMP monitor of the test's own, and the overlay
 * holds a thousand separate clusters, so no host copies it in less than
 * minutes. That monitor also shows the job while the delete runs (the
 * domain's passthrough waits for the domain's job, the delete).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import type { Domain } from '../../../src/domain.js';
import { QmpClient } from '../../../src/drivers/qemu/qmp/index.js';
import { errorOf, guestXml, host, imageSectorIs, SKIP } from './helpers.js';

const CLUSTERS = 1024;
const MiB = 1024 * 1024;

/** `qemu-img info --backing-chain` of an image: each layer's file, format and backing file. */
function chainInfo(path: string): unknown {
  const j = JSON.parse(
    execFileSync('qemu-img', ['info', '-U', '--backing-chain', '--output=json', path], { encoding: 'utf8' }),
  ) as Array<{ filename: string; format: string; 'backing-filename'?: string }>;
  return j.map((i) => [i.filename, i.format, i['backing-filename']]);
}

async function liveDisk(dom: Domain): Promise<string | undefined> {
  return DomainDef.fromXML(await dom.getXML()).devices?.disks?.[0]?.source?.file;
}

type Node = { 'node-name': string; drv: string; file: string };

/** Polls `check` (every 20 ms, at most `bound` ms: a generous bound, not a timing). */
async function until<T>(what: string, check: () => Promise<T | undefined>, bound = 60_000): Promise<T> {
  const end = Date.now() + bound;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${bound} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(SKIP !== '')(
  `aborting an external snapshot delete${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    it('an aborted block-commit is cancelled: snapshot, metadata, chain and disk unchanged; a second delete merges', async () => {
      const h = await host();
      const base = join(h.roots.path, 'vk-qsnap-cabort.qcow2');
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, `${CLUSTERS}M`]);
      const extra = join(h.roots.path, 'extra.qmp');
      const xml = guestXml('vk-qsnap-cabort', base)
        .replace(
          "<domain type='qemu'>",
          "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>",
        )
        .replace(
          '</domain>',
          `  <qemu:commandline><qemu:arg value='-qmp'/><qemu:arg value='unix:${extra},server=on,wait=off'/></qemu:commandline>\n</domain>`,
        );
      const dom = await h.conn.defineDomain(xml);
      await dom.createSnapshot(
        "<domainsnapshot><name>s1</name><disks><disk name='vda' snapshot='external'/></disks></domainsnapshot>",
      );
      const overlay = base.replace(/\.qcow2$/, '.s1');
      // one cluster in every MiB: a thousand separate requests for the commit to read
      const writes = Array.from({ length: CLUSTERS }, (_, i) => ['-c', `write -P 0x5a ${i * MiB} 4k`]).flat();
      execFileSync('qemu-io', ['-f', 'qcow2', ...writes, overlay], { stdio: 'ignore' });
      await dom.start();
      const qmp = await QmpClient.connect(extra, { retryForMs: 10_000 });
      try {
        const nodes = await qmp.execute<Node[]>('query-named-block-nodes', { flat: true });
        const top = nodes.find((n) => n.file === overlay && n.drv === 'qcow2')!['node-name'];
        const topStorage = nodes.find((n) => n.file === overlay && n.drv === 'file')!['node-name'];
        const baseNode = nodes.find((n) => n.file === base && n.drv === 'qcow2')!['node-name'];
        const snapXml = await dom.getSnapshotXML('s1');
        const chainBefore = chainInfo(overlay);
        expect(chainBefore).toEqual([
          [overlay, 'qcow2', base],
          [base, 'qcow2', undefined],
        ]);
        expect(await liveDisk(dom)).toBe(overlay);

        // hold the commit: every read of the overlay's clusters through a throttle of 8 requests a second
        await qmp.execute('object-add', {
          'qom-type': 'throttle-group',
          id: 'vk-tg',
          limits: { 'iops-read': 8 },
        });
        await qmp.execute('blockdev-add', {
          driver: 'throttle',
          'node-name': 'vk-thr',
          'throttle-group': 'vk-tg',
          file: topStorage,
        });
        const reopen = (file: string) =>
          qmp.execute('blockdev-reopen', {
            options: [{ driver: 'qcow2', 'node-name': top, file, backing: baseNode }],
          });
        await reopen('vk-thr');

        const ac = new AbortController();
        const deleting = errorOf(dom.deleteSnapshot('s1', { signal: ac.signal }));
        const job = await until('the commit job', async () => {
          const jobs =
            await qmp.execute<Array<{ type: string; device: string; status: string }>>('query-block-jobs');
          return jobs[0];
        });
        expect([job.type, job.status]).toEqual(['commit', 'running']);
        ac.abort();
        expect((await deleting).code).toBe('OPERATION_ABORTED');

        // the passthrough is a job of the domain: it runs once the delete has ended its cancel
        expect(await dom.qemuMonitorCommand({ execute: 'query-block-jobs' })).toEqual({ return: [] });
        expect(await qmp.execute('query-jobs')).toEqual([]);
        // QEMU kept the device on the overlay
        const block = await qmp.execute<Array<{ inserted?: { 'node-name': string } }>>('query-block');
        expect(block.find((b) => b.inserted)?.inserted?.['node-name']).toBe(top);
        expect((await dom.listSnapshots()).map((s) => [s.name, s.current])).toEqual([['s1', true]]);
        expect(await dom.getSnapshotXML('s1')).toBe(snapXml);
        expect(await liveDisk(dom)).toBe(overlay);
        expect(chainInfo(overlay)).toEqual(chainBefore);
        expect(existsSync(overlay)).toBe(true);

        // the throttle out again: the second delete merges the overlay into the base
        await reopen(topStorage);
        await qmp.execute('blockdev-del', { 'node-name': 'vk-thr' });
        await qmp.execute('object-del', { id: 'vk-tg' });
        await dom.deleteSnapshot('s1');
        expect(await dom.listSnapshots()).toEqual([]);
        expect(await liveDisk(dom)).toBe(base);
        expect(await dom.qemuMonitorCommand({ execute: 'query-block-jobs' })).toEqual({ return: [] });
        expect(existsSync(overlay)).toBe(false);
      } finally {
        await qmp.close();
      }
      await dom.destroy();
      expect(chainInfo(base)).toEqual([[base, 'qcow2', undefined]]);
      expect(imageSectorIs(base, 0x5a)).toBe(true);
      expect(imageSectorIs(base, 0x5a, (CLUSTERS - 1) * MiB)).toBe(true);
    }, 180_000);
  },
);
