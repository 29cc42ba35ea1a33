/**
 * An interface's `<bandwidth>` on its tap, with `tc`, as libvirt shapes a
 * tap: the guest's inbound traffic is what leaves the tap towards QEMU (its
 * egress), so it goes through an HTB root qdisc whose default class has the
 * average rate, the peak as ceiling and the burst; the guest's outbound
 * traffic enters the host on the tap (its ingress), where it is policed at
 * the average rate with the burst (the average when none is given), and
 * what is over the limit is dropped. Rates are kilobytes per second and
 * bursts kilobytes, tc's `kbps` and `kb` (libvirt's units).
 *
 * libvirt puts an SFQ leaf under the class for fairness between flows; a
 * kernel without SFQ gets the class's default leaf, which shapes the same
 * rates. The shaping is cleared before it is set, and when a step fails
 * what was set is cleared again and the failure names the direction.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { InterfaceDef } from '../../../conf/domain/devices/index.js';
import { VirError } from '../../../errors.js';

type Bandwidth = NonNullable<InterfaceDef['bandwidth']>;

const TC = ['/usr/sbin/tc', '/sbin/tc', '/usr/bin/tc', '/bin/tc'];

function tc(binary: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      binary,
      args,
      { timeout: 10_000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } },
      (err, _o, stderr) => resolve(err ? String(stderr).trim() || err.message : undefined),
    );
  });
}

function tcBinary(field: string): string {
  const found = TC.find((p) => existsSync(p));
  if (found === undefined)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'traffic shaping needs the tc command (iproute2)', {
      field,
    });
  return found;
}

/** Removes any shaping from `ifname` (what is not there is no error). */
export async function clearBandwidth(ifname: string): Promise<void> {
  const bin = TC.find((p) => existsSync(p));
  if (bin === undefined || !existsSync(`/sys/class/net/${ifname}`)) return;
  await tc(bin, ['qdisc', 'del', 'dev', ifname, 'root']);
  await tc(bin, ['qdisc', 'del', 'dev', ifname, 'ingress']);
}

/**
 * Sets `bw` on the tap `ifname` (`field` is the interface's `<bandwidth>`),
 * replacing what was there; none clears it.
 */
export async function setBandwidth(ifname: string, bw: Bandwidth | undefined, field: string): Promise<void> {
  await clearBandwidth(ifname);
  if (!bw || (!bw.inbound && !bw.outbound)) return;
  const bin = tcBinary(field);
  const fail = async (dir: string, why: string): Promise<never> => {
    await clearBandwidth(ifname);
    throw new VirError('OPERATION_FAILED', 'qemu', `cannot shape ${dir} traffic on '${ifname}': ${why}`, {
      field: `${field}/${dir}`,
    });
  };
  const dev = ['dev', ifname];
  const inb = bw.inbound;
  if (inb?.average !== undefined) {
    const klass = [
      'class',
      'add',
      ...dev,
      'parent',
      '1:',
      'classid',
      '1:1',
      'htb',
      'rate',
      `${inb.average}kbps`,
    ];
    if (inb.peak !== undefined) klass.push('ceil', `${inb.peak}kbps`);
    if (inb.burst !== undefined) klass.push('burst', `${inb.burst}kb`);
    for (const step of [['qdisc', 'add', ...dev, 'root', 'handle', '1:', 'htb', 'default', '1'], klass]) {
      const err = await tc(bin, step);
      if (err !== undefined) return fail('inbound', err);
    }
    const sfq = await tc(bin, [
      'qdisc',
      'add',
      ...dev,
      'parent',
      '1:1',
      'handle',
      '2:',
      'sfq',
      'perturb',
      '10',
    ]);
    // the kernel may lack SFQ: the class still shapes to the rates given
    if (sfq !== undefined && !/qdisc kind is unknown/i.test(sfq)) return fail('inbound', sfq);
  }
  const out = bw.outbound;
  if (out?.average !== undefined) {
    const burst = out.burst ?? out.average;
    const steps = [
      ['qdisc', 'add', ...dev, 'ingress'],
      // biome-ignore format: one tc filter
      ['filter', 'add', ...dev, 'parent', 'ffff:', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0', 'police', 'rate', `${out.average}kbps`, 'burst', `${burst}kb`, 'mtu', '64kb', 'drop', 'flowid', ':1'],
    ];
    for (const step of steps) {
      const err = await tc(bin, step);
      if (err !== undefined) return fail('outbound', err);
    }
  }
}
