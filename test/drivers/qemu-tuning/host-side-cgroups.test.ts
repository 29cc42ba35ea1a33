/**
 * What the start refuses of `<cputune>` and `<memtune>` when the guest gets
 * cgroups (the system instance as root on a host with the controllers) and
 * when it does not: with them, the shares, periods, quotas and the hard,
 * soft and swap limits are applied (`tuning-start.ts`) and the rest is still
 * refused naming the field; without them the whole element is.
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { hostSideSettings } from '../../../src/drivers/qemu/domains/host-side-settings.js';

function def(tunes: string): DomainDef {
  return DomainDef.fromXML(`<domain type='qemu'><name>t</name><memory unit='MiB'>32</memory>${tunes}
  <vcpu>2</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>`);
}

const ALL = { cpu: true, memory: true };
const fields = (d: DomainDef, c = {}) => hostSideSettings(d, c).map((s) => s.field);

describe('start-time refusal of cgroup tunables', () => {
  it('takes the shares, periods, quotas and memory limits when the guest gets cgroups', () => {
    const d = def(`<memtune><hard_limit unit='MiB'>64</hard_limit><soft_limit unit='MiB'>32</soft_limit>
      <swap_hard_limit unit='MiB'>128</swap_hard_limit></memtune>
      <cputune><shares>512</shares><period>20000</period><quota>-1</quota><global_period>100000</global_period>
      <global_quota>50000</global_quota><emulator_period>10000</emulator_period><emulator_quota>5000</emulator_quota>
      <iothread_period>10000</iothread_period><iothread_quota>5000</iothread_quota></cputune>`);
    expect(fields(d, ALL)).toEqual([]);
    expect(fields(d)).toEqual(['/domain/memtune', '/domain/cputune']);
    // only what the host has: a memory controller without the CPU one still refuses <cputune>
    expect(fields(d, { memory: true })).toEqual(['/domain/cputune']);
  });

  it('still refuses pins, schedulers and the guaranteed minimum, naming the field', () => {
    expect(fields(def(`<cputune><shares>512</shares><vcpupin vcpu='0' cpuset='0'/></cputune>`), ALL)).toEqual(
      ['/domain/cputune'],
    );
    expect(
      fields(def(`<cputune><vcpusched vcpus='0' scheduler='fifo' priority='1'/></cputune>`), ALL),
    ).toEqual(['/domain/cputune']);
    expect(fields(def(`<memtune><min_guarantee unit='MiB'>8</min_guarantee></memtune>`), ALL)).toEqual([
      '/domain/memtune/min_guarantee',
    ]);
    expect(fields(def(`<blkiotune><weight>500</weight></blkiotune>`), ALL)).toEqual(['/domain/blkiotune']);
  });
});
