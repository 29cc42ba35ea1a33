/**
 * The remote driver's scheduler and memory parameter calls against a
 * private libvirtd (its test:///default driver): what we set, python3-libvirt
 * reads back from the same daemon and the other way round, each parameter
 * sent with the typed-parameter type the daemon validates, and the daemon's
 * refusals arriving with libvirt's codes.
 */
import { describe, expect, it } from 'vitest';
import { MEMORY_PARAM_UNLIMITED } from '../../../src/domain-tuning-sched.js';
import { daemonPeer, PEER_NOTE } from './daemon-peer.js';
import { LIBVIRTD, PYTHON_LIBVIRT } from './libvirtd.js';

const peer = daemonPeer({ needPython: true });
const python = (code: string) => peer.python(code);
const NOTE = PEER_NOTE;

describe.skipIf(!LIBVIRTD || !PYTHON_LIBVIRT)(`remote scheduler and memory parameters${NOTE}`, () => {
  it('reads the scheduler as python3-libvirt does, and meets the daemon checks', async () => {
    const dom = await peer.conn.lookupDomain('test');
    const theirs = python(`import json, sys, libvirt
c = libvirt.open(sys.argv[1]); d = c.lookupByName('test')
t = d.schedulerType()
print(json.dumps([{'type': t[0], 'nparams': t[1]}, d.schedulerParameters()]))`);
    expect([await dom.getSchedulerType(), await dom.getSchedulerParameters()]).toEqual(theirs);
    // the weight goes as an unsigned int, which the daemon's driver validates and takes
    await dom.setSchedulerParameters({ weight: 70 });
    // a parameter of another driver passes our checks; the daemon's driver refuses it
    await expect(dom.setSchedulerParameters({ cpu_shares: 5 })).rejects.toMatchObject({
      code: 'ARGUMENT_UNSUPPORTED',
    });
    // libvirt's test driver takes no flags on either call
    await expect(dom.setSchedulerParameters({ weight: 70 }, { live: true })).rejects.toMatchObject({
      code: 'INVALID_ARG',
    });
    await expect(dom.getSchedulerParameters({ config: true })).rejects.toMatchObject({
      code: 'INVALID_ARG',
    });
  });

  it('sets memory limits python3-libvirt reads back, and reads what it set', async () => {
    const dom = await peer.conn.lookupDomain('test');
    await dom.setMemoryParameters({ hard_limit: 1_048_576, swap_hard_limit: 2_097_152 });
    await dom.setMemoryParameters({ soft_limit: 4096 }, { config: true });
    const theirs = python(`import json, sys, libvirt
c = libvirt.open(sys.argv[1]); d = c.lookupByName('test')
out = [d.memoryParameters(libvirt.VIR_DOMAIN_AFFECT_LIVE), d.memoryParameters(libvirt.VIR_DOMAIN_AFFECT_CONFIG)]
d.setMemoryParameters({'soft_limit': 65536}, libvirt.VIR_DOMAIN_AFFECT_LIVE)
print(json.dumps(out))`);
    expect(theirs).toEqual([
      { hard_limit: 1_048_576, soft_limit: MEMORY_PARAM_UNLIMITED, swap_hard_limit: 2_097_152 },
      { hard_limit: MEMORY_PARAM_UNLIMITED, soft_limit: 4096, swap_hard_limit: MEMORY_PARAM_UNLIMITED },
    ]);
    expect(await dom.getMemoryParameters()).toEqual({
      hard_limit: 1_048_576,
      soft_limit: 65536,
      swap_hard_limit: 2_097_152,
    });
    await expect(dom.setMemoryParameters({ hard_limit: 4_194_304 })).rejects.toMatchObject({
      code: 'INVALID_ARG',
    });
    await expect(dom.setMemoryParameters({ min_guarantee: 1 })).rejects.toMatchObject({
      code: 'ARGUMENT_UNSUPPORTED',
    });
    await expect(
      dom.setMemoryParameters({ hard_limit: 1 }, { live: true, config: true }),
    ).rejects.toMatchObject({ code: 'INVALID_ARG' });
    expect(await dom.getMemoryParameters({ live: true })).toMatchObject({ hard_limit: 1_048_576 });
  });

  it('sends a limit above "unlimited" and a 0 limit as they are: the daemon keeps and reads them back', async () => {
    const dom = await peer.conn.lookupDomain('test');
    await dom.setMemoryParameters({ soft_limit: 2 ** 60, swap_hard_limit: 2 ** 62 });
    await dom.setMemoryParameters({ hard_limit: 0 });
    const theirs = python(`import json, sys, libvirt
c = libvirt.open(sys.argv[1]); d = c.lookupByName('test')
p = d.memoryParameters(0)
print(json.dumps([p['hard_limit'], str(p['soft_limit']), str(p['swap_hard_limit'])]))`);
    // as exact integers: 2^60 and 2^62 arrived whole
    expect(theirs).toEqual([0, String(2n ** 60n), String(2n ** 62n)]);
    expect(await dom.getMemoryParameters()).toMatchObject({
      hard_limit: 0,
      soft_limit: 2 ** 60,
      swap_hard_limit: 2 ** 62,
    });
    // the daemon's own check: a hard limit above the swap limit, numbers as they are
    await expect(dom.setMemoryParameters({ hard_limit: 2 ** 63 })).rejects.toMatchObject({
      code: 'INVALID_ARG',
    });
  });
});
