/**
 * vCPUs plugged into a running guest under qemu:///system as root get their
 * own CPU group `vcpu<N>` with the definition's `<cputune>` period and
 * quota, as libvirt sets up a hot-plugged vCPU; the group of a vCPU QEMU no
 * longer has is removed. Real QEMU (TCG, diskless, `<vcpu current='1'>3`);
 * the groups are found from the kernel's account of each vCPU thread
 * (`/proc/<pid>/task/<tid>/cgroup`, threads named `CPU n/TCG` by QEMU).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroupHost } from '../../../src/drivers/qemu/lifecycle/cgroup.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE, qemuProcessesMentioning } from '../qemu-lifecycle/helpers.js';
import { rootsEachTest } from '../real-guest.js';
import { v1Group } from './cgroup-guest.js';

const ROOT = process.getuid?.() === 0;
const HOST = cgroupHost();
const CGROUPS = ROOT && HOST?.dirs.cpu !== undefined && HOST.bandwidth;
const WHY = !HAS_QEMU
  ? QEMU_NOTE
  : !ROOT
    ? ' (skipped: needs root for qemu:///system)'
    : !CGROUPS
      ? ' (skipped: no cgroup v1 cpu controller with CFS bandwidth on this host)'
      : '';

const each = rootsEachTest('vk-vcpucg-');

const NAME = `vk-vcpucg-${process.pid}`;

/** Each vCPU thread's CPU group by QEMU's vCPU number, from the kernel. */
function vcpuGroups(): Map<number, string> {
  const [pid] = qemuProcessesMentioning(each.path);
  if (pid === undefined) throw new Error('no QEMU');
  const out = new Map<number, string>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const m = /^CPU (\d+)\//.exec(readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8'));
    if (m) out.set(Number(m[1]), v1Group(`/proc/${pid}/task/${tid}`, 'cpu'));
  }
  return out;
}

const read = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8').trim();

describe.skipIf(WHY !== '')(`QEMU driver: hot-plugged vCPUs in their cgroups${WHY}`, () => {
  it("puts each plugged vCPU in its own group with <cputune>'s period and quota", async () => {
    const conn = await each.connect('qemu:///system');
    const dom = await conn.defineDomain(`<domain type='qemu'>
  <name>${NAME}</name>
  <memory unit='MiB'>32</memory>
  <vcpu current='1'>3</vcpu>
  <cputune><period>20000</period><quota>7000</quota></cputune>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices><emulator>${QEMU_BINARY}</emulator><memballoon model='none'/></devices>
</domain>`);
    await dom.start();
    const before = vcpuGroups();
    expect([...before.keys()]).toEqual([0]);
    const guestDir = join(before.get(0) as string, '..');
    expect(before.get(0)).toBe(join(guestDir, 'vcpu0'));

    await dom.setVcpus(3, { live: true });
    const after = vcpuGroups();
    expect([...after.keys()].sort()).toEqual([0, 1, 2]);
    for (const [i, dir] of after) {
      expect(dir).toBe(join(guestDir, `vcpu${i}`));
      expect(read(dir, 'cpu.cfs_period_us')).toBe('20000');
      expect(read(dir, 'cpu.cfs_quota_us')).toBe('7000');
      expect(read(dir, 'tasks').split('\n')).toHaveLength(1);
    }
    // a live quota change reaches the new vCPUs' groups too
    await dom.setSchedulerParameters({ vcpu_quota: 9000 }, { live: true });
    for (const dir of after.values()) expect(read(dir, 'cpu.cfs_quota_us')).toBe('9000');

    // the group of a vCPU QEMU no longer has (here one made as an unplug leaves it, empty)
    // goes at the next change of the count
    const gone = join(guestDir, 'vcpu5');
    mkdirSync(gone);
    await dom.setVcpus(3, { live: true });
    expect(existsSync(gone)).toBe(false);
    expect([...vcpuGroups().keys()].sort()).toEqual([0, 1, 2]);
  }, 60_000);
});
