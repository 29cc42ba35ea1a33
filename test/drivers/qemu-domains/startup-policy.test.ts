/**
 * Disks whose image is missing at start, by `startupPolicy`, and the
 * `job-completed` event of a save: real QEMU (TCG, 32 MiB). The expected
 * events and errors are what libvirt 11.3's QEMU driver gives for the same
 * definitions (a private libvirtd run through python3-libvirt): an optional
 * cdrom starts empty with `disk-change` (`missing-on-start`, alias
 * `ide0-1-0`), an optional disk is dropped (`drop-missing-on-start`,
 * `virtio-disk2`), mandatory, default and (on a fresh boot) requisite fail
 * with SYSTEM_ERROR "Cannot access storage file"; a save sends
 * `job-completed` with operation 2 (save) between `suspended` and `stopped
 * saved`, a restore and a core dump send none.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/connection.js';
import type { AnyDomainEvent } from '../../../src/domain-events.js';
import { isVirError } from '../../../src/errors.js';
import type { EventStream } from '../../../src/event-stream.js';
import { waitForLength } from '../../wait-for.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  QEMU_NOTE,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';
import { connectUnder } from '../real-guest.js';

let roots: TestRoots;
let conn: Connection;

beforeAll(async () => {
  if (!HAS_QEMU) return;
  roots = tempRoots('vk-policy-');
  conn = await connectUnder(roots.path);
});

afterAll(async () => {
  if (!HAS_QEMU) return;
  for (const d of await conn.listDomains({ active: true })) await d.destroy().catch(() => {});
  await conn.close();
  for (const pid of qemuProcessesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
  roots.remove();
});

function guest(name: string, extra: string): string {
  // each guest its own image: QEMU locks it for writing
  writeFileSync(join(roots.path, `${name}.img`), Buffer.alloc(1 << 20));
  return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os><devices><emulator>${QEMU_BINARY}</emulator>
  <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${roots.path}/${name}.img'/><target dev='vda' bus='virtio'/></disk>
  ${extra}</devices></domain>`;
}

function cdrom(file: string, policy?: string): string {
  const p = policy ? ` startupPolicy='${policy}'` : '';
  return `<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${file}'${p}/><target dev='hdc' bus='ide'/><readonly/></disk>`;
}

/** Events of `ids` from now on, collected as they come. */
function collect(ids: AnyDomainEvent['type'][]): { seen: AnyDomainEvent[]; stop: () => void } {
  const stream = conn.events({ ids }) as EventStream<AnyDomainEvent>;
  const seen: AnyDomainEvent[] = [];
  void (async () => {
    for await (const e of stream) seen.push(e);
  })();
  return { seen, stop: () => stream.end() };
}

/**
 * Waits until `seen` holds the `n` events a check expects, then lets through
 * any more the stream already holds (stop() drops them), so that an event
 * that should not have come still shows.
 */
async function arrived(seen: AnyDomainEvent[], n: number): Promise<void> {
  await waitForLength(seen, n);
  await new Promise((r) => setImmediate(r));
}

function qemuArgv(name: string): string {
  const [pid] = qemuProcessesMentioning(`guest=${name},`);
  return pid === undefined ? '' : readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
}

describe.skipIf(!HAS_QEMU)(`startupPolicy of missing disks, job-completed of a save${QEMU_NOTE}`, () => {
  it('optional cdrom: the guest starts without the media, disk-change missing-on-start', async () => {
    const missing = join(roots.path, 'missing.iso');
    const dom = await conn.defineDomain(guest('vk-opt-cd', cdrom(missing, 'optional')));
    const ev = collect(['disk-change', 'lifecycle']);
    await dom.start();
    await arrived(ev.seen, 3);
    ev.stop();
    const strip = ({ timestamp: _t, ...rest }: AnyDomainEvent) => rest;
    expect(ev.seen.map(strip)).toEqual([
      {
        type: 'disk-change',
        domain: { name: 'vk-opt-cd', uuid: dom.uuid, id: dom.id },
        oldSrcPath: missing,
        newSrcPath: '',
        devAlias: 'ide0-1-0',
        reason: 'missing-on-start',
      },
      {
        type: 'lifecycle',
        domain: { name: 'vk-opt-cd', uuid: dom.uuid, id: dom.id },
        event: 'resumed',
        detail: 'unpaused',
      },
      {
        type: 'lifecycle',
        domain: { name: 'vk-opt-cd', uuid: dom.uuid, id: dom.id },
        event: 'started',
        detail: 'booted',
      },
    ]);
    // the live definition and QEMU agree: an empty drive, no image, no format
    const xml = await dom.getXML();
    expect(xml).not.toContain('missing.iso');
    expect(xml).toMatch(
      /<disk type='file' device='cdrom'>\s*<driver name='qemu'\/>\s*<target dev='hdc' bus='ide'\/>/,
    );
    const argv = qemuArgv('vk-opt-cd');
    expect(argv).not.toContain('missing.iso');
    expect(argv).toMatch(/"driver":"ide-cd"/);
    expect(argv).not.toMatch(/"driver":"ide-cd"[^ ]*"drive"/);
    // the stored definition keeps the source for the next start
    expect(await dom.getXML({ inactive: true })).toContain('missing.iso');
    await dom.destroy();
    await dom.undefine();
  }, 60_000);

  it('optional disk: dropped from the guest, disk-change drop-missing-on-start', async () => {
    const missing = join(roots.path, 'missing-vdc.img');
    const ev = collect(['disk-change']);
    const dom = await conn.createDomain(
      guest(
        'vk-opt-disk',
        `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${missing}' startupPolicy='optional'/><target dev='vdc' bus='virtio'/></disk>`,
      ),
    );
    await arrived(ev.seen, 1);
    ev.stop();
    expect(ev.seen).toMatchObject([
      {
        type: 'disk-change',
        oldSrcPath: missing,
        newSrcPath: '',
        devAlias: 'virtio-disk2',
        reason: 'drop-missing-on-start',
      },
    ]);
    const xml = await dom.getXML();
    expect(xml).not.toContain("dev='vdc'");
    expect(qemuArgv('vk-opt-disk')).not.toContain('missing-vdc');
    await dom.destroy();
  }, 60_000);

  it.each([['mandatory'], [undefined], ['requisite']])(
    'policy %s: a fresh boot fails typed, naming the file, and no QEMU is left',
    async (policy) => {
      const missing = join(roots.path, `missing-${policy ?? 'default'}.iso`);
      const name = `vk-fail-${policy ?? 'default'}`;
      const err = await conn.createDomain(guest(name, cdrom(missing, policy))).catch((e: unknown) => e);
      expect(isVirError(err) && err.code).toBe('SYSTEM_ERROR');
      expect((err as Error).message).toBe(
        `Cannot access storage file '${missing}': No such file or directory`,
      );
      expect(qemuProcessesMentioning(`guest=${name},`)).toEqual([]);
      expect(await conn.listDomains({ active: true }).then((l) => l.map((d) => d.name))).not.toContain(name);
    },
    60_000,
  );

  it('save: job-completed (operation save) before stopped saved; restore with requisite media gone drops it', async () => {
    const iso = join(roots.path, 'media.iso');
    writeFileSync(iso, Buffer.alloc(64 << 10));
    const dom = await conn.createDomain(guest('vk-save', cdrom(iso, 'requisite')));
    expect(await dom.getXML()).toContain('media.iso');
    const image = join(roots.path, 'vk-save.save');
    const ev = collect(['job-completed', 'lifecycle', 'disk-change']);
    await dom.save(image);
    await arrived(ev.seen, 3);
    const jc = ev.seen.find((e) => e.type === 'job-completed');
    // libvirt's statistics of the save job: its operation, and what went into the image
    expect(jc?.type === 'job-completed' && jc.params.operation).toBe(2);
    expect(jc?.type === 'job-completed' && Number(jc.params.memory_total)).toBeGreaterThan(32 << 20);
    expect(
      jc?.type === 'job-completed' && Object.keys(jc.params).filter((k) => k.startsWith('disk_')),
    ).toEqual([]);
    const saved = ev.seen.splice(0).map((e) => (e.type === 'lifecycle' ? `${e.event}/${e.detail}` : e.type));
    expect(saved).toEqual(['suspended/paused', 'job-completed', 'stopped/saved']);
    ev.stop();

    const ev2 = collect(['job-completed', 'lifecycle', 'disk-change']);
    rmSync(iso);
    await conn.restoreDomain(image);
    await arrived(ev2.seen, 2);
    ev2.stop();
    // restoring carries state over: requisite media may go, as libvirt lets it; no job-completed
    const kinds = ev2.seen.map((e) => (e.type === 'lifecycle' ? `${e.event}/${e.detail}` : e.type));
    expect(kinds.slice(0, 2)).toEqual(['disk-change', 'started/restored']);
    expect(kinds).not.toContain('job-completed');
    expect(ev2.seen[0]).toMatchObject({ oldSrcPath: iso, devAlias: 'ide0-1-0', reason: 'missing-on-start' });
    const back = await conn.lookupDomain('vk-save');
    expect(await back.getState()).toEqual({ state: 'running', reason: 'restored' });
    expect(await back.getXML()).not.toContain('media.iso');
    expect(existsSync(image)).toBe(true);
    await back.destroy();
  }, 90_000);
});
