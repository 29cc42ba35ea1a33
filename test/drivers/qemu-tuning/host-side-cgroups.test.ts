/**
 * What the start refuses of `<cputune>` and `<memtune>` when the guest gets
 * cgroups (the system instance as root on a host with the controllers) and
 * when it does not: with them, the shares, periods, quotas and the hard,
 * soft and swap limits are applied (`tuning-start.ts`) and the rest is still
 * refused naming the field; without them the whole element is. `<blkiotune>`
 * likewise with the blkio controller.
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
    // <blkiotune> needs the blkio controller
    expect(fields(def(`<blkiotune><weight>500</weight></blkiotune>`), ALL)).toEqual(['/domain/blkiotune']);
  });

  it('takes <blkiotune> with the blkio controller, and refuses what the model does not know in it', () => {
    const bt = `<blkiotune><weight>500</weight><device><path>/dev/sda</path><weight>300</weight>
      <read_iops_sec>10</read_iops_sec><write_iops_sec>20</write_iops_sec><read_bytes_sec>30</read_bytes_sec>
      <write_bytes_sec>40</write_bytes_sec></device></blkiotune>`;
    expect(fields(def(bt), { blkio: true })).toEqual([]);
    expect(fields(def(bt), ALL)).toEqual(['/domain/blkiotune']);
    expect(
      fields(def(`<blkiotune><device><path>/dev/sda</path><future>1</future></device></blkiotune>`), {
        blkio: true,
      }),
    ).toEqual(['/domain/blkiotune/device[1]']);
  });
});
