/**
 * Scheduler and memory parameters on the QEMU driver with real QEMU (TCG,
 * a diskless SeaBIOS guest with two vCPUs, every root in a temporary
 * directory). As root under qemu:///system each guest gets its own cgroups:
 * the test finds them from the kernel's own account (`/proc/<pid>/cgroup`
 * of QEMU and of its vCPU threads) and reads the cgroup files back after
 * the start (the definition's `<cputune>` / `<memtune>`) and after each
 * change. Under qemu:///session the calls and the elements are refused as
 * libvirt refuses them.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/connection.js';
import type { AnyDomainEvent } from '../../../src/driver.js';
import { cgroupHost } from '../../../src/drivers/qemu/lifecycle/cgroup.js';
import { waitFor } from '../../wait-for.js';
import { HAS_QEMU, QEMU_NOTE, qemuProcessesMentioning } from '../qemu-lifecycle/helpers.js';
import { rootsEachTest } from '../real-guest.js';
import { tunedGuestXml, v1Group } from './cgroup-guest.js';

const ROOT = process.getuid?.() === 0;
const HOST = cgroupHost();
const CGROUPS = ROOT && HOST?.dirs.cpu !== undefined && HOST.dirs.memory !== undefined && HOST.bandwidth;
const WHY = !HAS_QEMU
  ? QEMU_NOTE
  : !ROOT
    ? ' (skipped: needs root for qemu:///system)'
    : !CGROUPS
      ? ' (skipped: no cgroup v1 cpu (with CFS bandwidth) and memory controllers on this host)'
      : '';

const each = rootsEachTest('vk-sched-');
const open = (mode: 'system' | 'session'): Promise<Connection> => each.connect(`qemu:///${mode}`);

const NAME = `vk-sched-${process.pid}`;

const xml = (tunes = ''): string => tunedGuestXml(NAME, 2, tunes);

/** What the kernel keeps of `cpu.shares` = `value`, in a fresh group made for the purpose. */
function keptShares(value: number): number {
  const dir = join(HOST?.dirs.cpu as string, `vk-probe-${process.pid}-shares`);
  mkdirSync(dir);
  try {
    writeFileSync(join(dir, 'cpu.shares'), String(value));
    return Number(readFileSync(join(dir, 'cpu.shares'), 'utf8').trim());
  } finally {
    rmdirSync(dir);
  }
}

function read(dir: string, file: string): string {
  return readFileSync(join(dir, file), 'utf8').trim();
}

/** The QEMU of the test's roots, and its vCPU threads' groups (threads named `CPU n/TCG` by QEMU). */
function qemuGroups(): { pid: number; cpu: string; memory: string; vcpus: string[]; main: string } {
  const [pid] = qemuProcessesMentioning(each.path);
  if (pid === undefined) throw new Error('no QEMU');
  const vcpus: string[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8');
    if (/^CPU \d+\//.test(comm)) vcpus.push(v1Group(`/proc/${pid}/task/${tid}`, 'cpu'));
  }
  const main = v1Group(`/proc/${pid}/task/${pid}`, 'cpu');
  return { pid, cpu: join(main, '..'), memory: v1Group(`/proc/${pid}`, 'memory'), vcpus, main };
}

async function next(it: AsyncIterator<AnyDomainEvent>): Promise<AnyDomainEvent> {
  const r = await it.next();
  if (r.done) throw new Error('stream ended');
  return r.value;
}

describe.skipIf(WHY !== '')(`QEMU driver scheduler and memory parameters in cgroups${WHY}`, () => {
  it('applies <cputune> and <memtune> at start, changes them live, and reads the cgroups back', async () => {
    const conn = await open('system');
    const tunable = conn.events({ ids: ['tunable'] });
    const events = tunable[Symbol.asyncIterator]();
    const dom = await conn.defineDomain(
      xml(`<memtune><hard_limit unit='MiB'>512</hard_limit><soft_limit unit='MiB'>256</soft_limit></memtune>
  <cputune><shares>512</shares><period>20000</period><quota>10000</quota><global_period>100000</global_period><global_quota>150000</global_quota></cputune>`),
    );
    await dom.start();
    const g = qemuGroups();
    // the guest's own group, below ours and named with QEMU's pid (ids count per state root),
    // with a group per vCPU and one for the emulator threads
    expect(g.cpu).toMatch(new RegExp(`/machine/qemu-\\d+-${NAME}-${g.pid}\\.libvirt-qemu$`));
    expect(g.vcpus).toHaveLength(2);
    expect(new Set(g.vcpus).size).toBe(2);
    expect(g.main.endsWith('/emulator')).toBe(true);
    expect(read(g.cpu, 'cpu.shares')).toBe('512');
    expect(read(g.cpu, 'cpu.cfs_quota_us')).toBe('150000');
    for (const v of g.vcpus) {
      expect(read(v, 'cpu.cfs_period_us')).toBe('20000');
      expect(read(v, 'cpu.cfs_quota_us')).toBe('10000');
    }
    expect(read(g.memory, 'memory.limit_in_bytes')).toBe(String(512 * 1024 * 1024));
    expect(read(g.memory, 'memory.soft_limit_in_bytes')).toBe(String(256 * 1024 * 1024));

    expect(await dom.getSchedulerType()).toEqual({ type: 'posix', nparams: 9 });
    expect(await dom.getSchedulerParameters()).toEqual({
      cpu_shares: 512,
      vcpu_period: 20000,
      vcpu_quota: 10000,
      emulator_period: Number(read(join(g.cpu, 'emulator'), 'cpu.cfs_period_us')),
      emulator_quota: -1,
      global_period: 100000,
      global_quota: 150000,
      iothread_period: 0,
      iothread_quota: 0,
    });

    await dom.setSchedulerParameters({ cpu_shares: 2048, vcpu_quota: 5000, emulator_period: 50000 });
    expect(await next(events)).toMatchObject({
      type: 'tunable',
      params: { 'cputune.cpu_shares': 2048n, 'cputune.vcpu_quota': 5000n, 'cputune.emulator_period': 50000n },
    });
    expect(read(g.cpu, 'cpu.shares')).toBe('2048');
    for (const v of g.vcpus) expect(read(v, 'cpu.cfs_quota_us')).toBe('5000');
    expect(read(join(g.cpu, 'emulator'), 'cpu.cfs_period_us')).toBe('50000');
    expect(await dom.getXML()).toContain('<shares>2048</shares>');
    // live only: the persistent definition keeps its values
    expect(await dom.getXML({ inactive: true })).toContain('<shares>512</shares>');
    expect(await dom.getSchedulerParameters({ config: true })).toMatchObject({
      cpu_shares: 512,
      vcpu_quota: 10000,
    });

    // refusals name the parameter and change nothing
    const before = await dom.getXML();
    for (const [params, field, code] of [
      [{ vcpu_period: 999 }, 'vcpu_period', 'INVALID_ARG'],
      [{ vcpu_period: 1_000_001 }, 'vcpu_period', 'INVALID_ARG'],
      [{ global_quota: 17_592_186_044_416 }, 'global_quota', 'INVALID_ARG'],
      [{ emulator_quota: 999 }, 'emulator_quota', 'INVALID_ARG'],
      [{ cpu_shares: 1 }, 'cpu_shares', 'INVALID_ARG'],
      [{ cpu_shares: 300_000, vcpu_quota: 20000 }, 'cpu_shares', 'INVALID_ARG'],
      [{ weight: 10 }, 'weight', 'ARGUMENT_UNSUPPORTED'],
      [{ vcpu_quota: 1.5 }, 'vcpu_quota', 'INVALID_ARG'],
    ] as const)
      await expect(dom.setSchedulerParameters(params), JSON.stringify(params)).rejects.toMatchObject({
        code,
        field,
      });
    expect(await dom.getXML()).toBe(before);
    expect(read(g.cpu, 'cpu.shares')).toBe('2048');
    for (const v of g.vcpus) expect(read(v, 'cpu.cfs_quota_us')).toBe('5000');

    // a negative quota is no limit
    await dom.setSchedulerParameters({ vcpu_quota: -5 });
    for (const v of g.vcpus) expect(read(v, 'cpu.cfs_quota_us')).toBe('-1');

    expect(await dom.getMemoryParameters()).toEqual({
      hard_limit: 512 * 1024,
      soft_limit: 256 * 1024,
      swap_hard_limit: 9007199254740991,
    });
    await dom.setMemoryParameters({ hard_limit: 1024 * 1024, soft_limit: 9007199254740991 });
    expect(read(g.memory, 'memory.limit_in_bytes')).toBe(String(1024 * 1024 * 1024));
    // the kernel's "no limit" (the largest page count) reads back as libvirt's "unlimited"
    expect(BigInt(read(g.memory, 'memory.soft_limit_in_bytes'))).toBeGreaterThan(2n ** 60n);
    expect(await dom.getMemoryParameters()).toMatchObject({
      hard_limit: 1024 * 1024,
      soft_limit: 9007199254740991,
    });
    if (HOST?.swap) {
      await dom.setMemoryParameters({ swap_hard_limit: 2 * 1024 * 1024 });
      expect(read(g.memory, 'memory.memsw.limit_in_bytes')).toBe(String(2 * 1024 * 1024 * 1024));
      await expect(dom.setMemoryParameters({ hard_limit: 3 * 1024 * 1024 })).rejects.toMatchObject({
        code: 'INVALID_ARG',
        field: 'hard_limit',
      });
      expect(read(g.memory, 'memory.limit_in_bytes')).toBe(String(1024 * 1024 * 1024));
    }
    await expect(dom.setMemoryParameters({ min_guarantee: 1 })).rejects.toMatchObject({
      code: 'ARGUMENT_UNSUPPORTED',
      field: 'min_guarantee',
    });
    // libvirt's cgroup setters take nothing above "unlimited" (2^53 - 1 KiB): INVALID_ARG,
    // checked here before any limit is written
    await expect(
      dom.setMemoryParameters({ hard_limit: 2048 * 1024, soft_limit: 2 ** 60 }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'soft_limit',
    });
    expect(read(g.memory, 'memory.limit_in_bytes')).toBe(String(1024 * 1024 * 1024));
    await dom.setMemoryParameters({ soft_limit: 128 * 1024 }, { config: true });
    expect(await dom.getXML({ inactive: true })).toContain("<soft_limit unit='KiB'>131072</soft_limit>");
    expect(await dom.getXML()).toContain("<hard_limit unit='KiB'>1048576</hard_limit>");

    await dom.destroy();
    // the guest's groups go with it
    await waitFor(() => !existsSync(g.cpu), { what: `removal of ${g.cpu}` });
    expect(existsSync(g.cpu)).toBe(false);
    expect(existsSync(g.memory)).toBe(false);
    tunable.end();
  });

  it("refuses at start the shares the kernel would clamp, as libvirt 9.0's cgroup setter does", async () => {
    // the kernel's own bounds: what it keeps of a value below and above any it allows
    const low = keptShares(1);
    const high = keptShares(300_000);
    const conn = await open('system');
    for (const asked of [1, 300_000]) {
      const dom = await conn.defineDomain(xml(`<cputune><shares>${asked}</shares></cputune>`));
      if (keptShares(asked) === asked) {
        // a kernel that keeps it as asked: nothing to refuse, and the guest's group has it
        await dom.start();
        expect(read(qemuGroups().cpu, 'cpu.shares')).toBe(String(asked));
        await dom.destroy();
      } else {
        // libvirt refuses shares outside [2, 262144] rather than let the kernel keep another value
        await expect(dom.start()).rejects.toMatchObject({
          code: 'INVALID_ARG',
          field: '/domain/cputune/shares',
          message: expect.stringContaining(`shares '${asked}' must be in range [2, 262144]`),
        });
        expect(qemuProcessesMentioning(each.path)).toEqual([]);
        expect((await dom.getState()).state).toBe('shutoff');
      }
      await dom.undefine();
    }
    // the kernel's bounds start as they are, and the live definition and the group agree
    for (const asked of [low, high]) {
      const dom = await conn.defineDomain(xml(`<cputune><shares>${asked}</shares></cputune>`));
      await dom.start();
      expect(read(qemuGroups().cpu, 'cpu.shares')).toBe(String(asked));
      expect(await dom.getXML()).toContain(`<shares>${asked}</shares>`);
      expect((await dom.getSchedulerParameters()).cpu_shares).toBe(asked);
      await dom.destroy();
      await dom.undefine();
    }
  });

  it('changes the persistent definition of an inactive guest, and refuses live', async () => {
    const conn = await open('system');
    const dom = await conn.defineDomain(xml());
    expect(await dom.getSchedulerType()).toEqual({ type: 'posix', nparams: 9 });
    await expect(dom.setSchedulerParameters({ cpu_shares: 100 }, { live: true })).rejects.toMatchObject({
      code: 'OPERATION_INVALID',
    });
    await dom.setSchedulerParameters({ cpu_shares: 100, iothread_period: 5000 });
    expect(await dom.getSchedulerParameters()).toEqual({
      cpu_shares: 100,
      vcpu_period: 0,
      vcpu_quota: 0,
      emulator_period: 0,
      emulator_quota: 0,
      global_period: 0,
      global_quota: 0,
      iothread_period: 5000,
      iothread_quota: 0,
    });
    expect(await dom.getXML()).toMatch(
      /<cputune>\s*<shares>100<\/shares>\s*<iothread_period>5000<\/iothread_period>/,
    );
    await dom.setMemoryParameters({ hard_limit: 65536 });
    expect(await dom.getMemoryParameters()).toEqual({
      hard_limit: 65536,
      soft_limit: 9007199254740991,
      swap_hard_limit: 9007199254740991,
    });
    // a limit above "unlimited" in the definition: read back as set, not written (libvirt keeps
    // the number in its definition object, and formats only limits below 2^53 - 1)
    await dom.setMemoryParameters({ soft_limit: 2 ** 60 });
    expect((await dom.getMemoryParameters()).soft_limit).toBe(2 ** 60);
    expect(await dom.getXML()).not.toContain('<soft_limit');
    // on disk: another connection on the same roots reads it back
    const again = await open('system');
    expect(await (await again.lookupDomain(NAME)).getXML()).toContain(
      "<hard_limit unit='KiB'>65536</hard_limit>",
    );
  });
});

describe.skipIf(!HAS_QEMU)(`QEMU driver scheduler and memory parameters without cgroups${QEMU_NOTE}`, () => {
  it('refuses the calls and the definition elements in session mode, naming the field', async () => {
    const conn = await open('session');
    const dom = await conn.defineDomain(xml('<cputune><shares>512</shares></cputune>'));
    await expect(dom.getSchedulerType()).rejects.toMatchObject({ code: 'OPERATION_INVALID' });
    await expect(dom.getSchedulerParameters()).rejects.toMatchObject({ code: 'OPERATION_INVALID' });
    await expect(dom.setMemoryParameters({ hard_limit: 1 })).rejects.toMatchObject({
      code: 'OPERATION_INVALID',
    });
    await expect(dom.start()).rejects.toMatchObject({ code: 'CONFIG_UNSUPPORTED', field: '/domain/cputune' });
    expect(qemuProcessesMentioning(each.path)).toEqual([]);
  });
});
