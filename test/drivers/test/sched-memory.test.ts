/**
 * Scheduler and memory parameters on the test driver, step by step beside
 * libvirt's test driver through python3-libvirt on test:///default: the same
 * values read back, the same `<memtune>` in the XML, the same error codes
 * (libvirt's test driver sends no `tunable` event for these either).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { connect } from '../../../src/connection.js';
import type { MemoryParameters, SchedulerParameters } from '../../../src/domain-tuning-sched.js';
import { MEMORY_PARAM_UNLIMITED } from '../../../src/domain-tuning-sched.js';
import type { AnyDomainEvent } from '../../../src/driver.js';
import { errorCodeFromLibvirt } from '../../../src/drivers/remote/libvirt-errors.js';
import { VirError } from '../../../src/errors.js';
import { PYTHON_LIBVIRT } from '../remote/libvirtd.js';

/** One call, as both sides run it: flags 1 live, 2 config, 0 current. */
type Step =
  | ['stype']
  | ['sget', number]
  | ['sset', SchedulerParameters]
  | ['mget', number]
  | ['mset', MemoryParameters, number]
  | ['xml', number]
  | ['destroy'];

const STEPS: Step[] = [
  ['stype'],
  ['sget', 0],
  ['sget', 1],
  ['sget', 2],
  ['sset', { weight: 70 }],
  ['sget', 0],
  ['sset', { weight: 0 }],
  ['mget', 0],
  ['mget', 2],
  ['mset', { hard_limit: 1024000 }, 0],
  ['mget', 0],
  ['mset', { soft_limit: 2048 }, 1],
  ['mset', { swap_hard_limit: 1024 }, 0],
  ['mset', { swap_hard_limit: 2048000 }, 0],
  ['mset', { hard_limit: 4096000 }, 0],
  ['mset', { hard_limit: 4096, swap_hard_limit: 8192 }, 0],
  ['mset', { soft_limit: 512 }, 2],
  ['mset', { hard_limit: 1 }, 3],
  ['mget', 0],
  ['mget', 1],
  ['mget', 2],
  ['mget', 3],
  ['xml', 0],
  ['xml', 2],
  ['mset', { swap_hard_limit: MEMORY_PARAM_UNLIMITED }, 0],
  ['mset', { hard_limit: MEMORY_PARAM_UNLIMITED }, 0],
  ['mget', 0],
  ['xml', 0],
  // 0 is a limit, not "unlimited"
  ['mset', { hard_limit: 0 }, 0],
  ['mget', 0],
  ['xml', 0],
  // above "unlimited" (2^53 - 1): compared as numbers, kept and read back, never written
  ['mset', { hard_limit: 2 ** 60 }, 0],
  ['mset', { soft_limit: 2 ** 60 }, 0],
  ['mget', 0],
  ['mset', { swap_hard_limit: 2 ** 60 }, 0],
  ['mset', { hard_limit: 2 ** 60 }, 0],
  ['mget', 0],
  ['xml', 0],
  // the config of a running domain checked against the live limits
  ['mset', { hard_limit: 2 ** 60 }, 2],
  ['mget', 2],
  ['xml', 2],
  ['destroy'],
  ['stype'],
  ['sget', 0],
  ['mget', 0],
  ['mget', 1],
  ['mset', { hard_limit: 3072 }, 1],
  ['mset', { hard_limit: 3072 }, 0],
  ['mget', 0],
  ['xml', 0],
  ['mset', { hard_limit: 0 }, 2],
  ['mget', 2],
  ['xml', 2],
];

type Result = { ok: unknown } | { err: string };

/** The part of a domain document the tunables live in: from `<currentMemory>` to `<vcpu>`. */
function tunes(xml: string): string {
  return xml.slice(xml.indexOf('<currentMemory'), xml.indexOf('<vcpu'));
}

function libvirtRun(): { results: Result[]; tunables: number } {
  const script = `
import json, sys, libvirt
libvirt.virEventRegisterDefaultImpl()
c = libvirt.open('test:///default')
tun = []
c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_TUNABLE, lambda conn, dom, p, op: tun.append(p), None)
d = c.lookupByName('test')
out = []
for s in json.loads(sys.stdin.read()):
    try:
        if s[0] == 'stype': t = d.schedulerType(); r = {'type': t[0], 'nparams': t[1]}
        elif s[0] == 'sget': r = d.schedulerParametersFlags(s[1]) if s[1] else d.schedulerParameters()
        elif s[0] == 'sset': d.setSchedulerParameters(s[1]); r = None
        elif s[0] == 'mget': r = d.memoryParameters(s[1])
        elif s[0] == 'mset': d.setMemoryParameters(s[1], s[2]); r = None
        elif s[0] == 'xml': r = d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if s[1] == 2 else 0)
        elif s[0] == 'destroy': d.destroy(); r = None
        out.append({'ok': r})
    except libvirt.libvirtError as e:
        out.append({'err': e.get_error_code()})
done = []
libvirt.virEventAddTimeout(0, lambda t, o: done.append(1), None)
while not done: libvirt.virEventRunDefaultImpl()
print(json.dumps({'results': out, 'tunables': len(tun)}))
`;
  const raw = execFileSync(PYTHON_LIBVIRT as string, ['-c', script], {
    encoding: 'utf8',
    input: JSON.stringify(STEPS),
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const parsed = JSON.parse(raw) as { results: ({ ok: unknown } | { err: number })[]; tunables: number };
  return {
    ...parsed,
    results: parsed.results.map((r) => {
      if ('err' in r) return { err: errorCodeFromLibvirt(r.err) };
      return typeof r.ok === 'string' && r.ok.startsWith('<domain') ? { ok: tunes(r.ok) } : r;
    }),
  };
}

const AFFECT = (flags: number) => ({
  ...(flags & 1 ? { live: true } : {}),
  ...(flags & 2 ? { config: true } : {}),
});

describe('test driver scheduler and memory parameters', () => {
  it.skipIf(!PYTHON_LIBVIRT)(
    "answer as libvirt's test driver, step by step (skipped without python3-libvirt)",
    async () => {
      const conn = await connect('test:///default');
      const events: AnyDomainEvent[] = [];
      const stream = conn.events({ ids: ['tunable'] });
      const reading = (async () => {
        for await (const e of stream) events.push(e);
      })();
      const dom = await conn.lookupDomain('test');
      const ours: Result[] = [];
      for (const s of STEPS) {
        try {
          let r: unknown = null;
          if (s[0] === 'stype') r = await dom.getSchedulerType();
          else if (s[0] === 'sget') r = await dom.getSchedulerParameters(AFFECT(s[1]));
          else if (s[0] === 'sset') await dom.setSchedulerParameters(s[1]);
          else if (s[0] === 'mget') r = await dom.getMemoryParameters(AFFECT(s[1]));
          else if (s[0] === 'mset') await dom.setMemoryParameters(s[1], AFFECT(s[2]));
          else if (s[0] === 'xml') r = tunes(await dom.getXML({ inactive: s[1] === 2 }));
          else await dom.destroy();
          ours.push({ ok: r });
        } catch (err) {
          if (!(err instanceof VirError)) throw err;
          ours.push({ err: err.code });
        }
      }
      await conn.close();
      await reading;
      const theirs = libvirtRun();
      for (const [i, s] of STEPS.entries()) expect(ours[i], JSON.stringify(s)).toEqual(theirs.results[i]);
      expect(events).toHaveLength(theirs.tunables);
    },
  );

  it('refuses bad arguments, naming the parameter, and changes nothing', async () => {
    const conn = await connect('test:///default');
    const dom = await conn.lookupDomain('test');
    const before = await dom.getXML();
    await expect(dom.setSchedulerParameters({ cpu_shares: 5 })).rejects.toMatchObject({
      code: 'ARGUMENT_UNSUPPORTED',
      field: 'cpu_shares',
    });
    await expect(dom.setSchedulerParameters({ bogus: 1 } as SchedulerParameters)).rejects.toMatchObject({
      code: 'ARGUMENT_UNSUPPORTED',
      field: 'bogus',
    });
    await expect(dom.setSchedulerParameters({ weight: -1 })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'weight',
    });
    await expect(dom.setSchedulerParameters({ weight: 2 ** 32 })).rejects.toMatchObject({ field: 'weight' });
    await expect(
      dom.setSchedulerParameters({ weight: '5' } as unknown as SchedulerParameters),
    ).rejects.toMatchObject({ code: 'INVALID_ARG', field: 'weight' });
    await expect(dom.setMemoryParameters({ min_guarantee: 5 })).rejects.toMatchObject({
      code: 'ARGUMENT_UNSUPPORTED',
      field: 'min_guarantee',
    });
    await expect(dom.setMemoryParameters({ hard_limit: 1.5 })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'hard_limit',
    });
    // an unsigned long long holds no more than 2^64 - 1 (2^64 as a double)
    await expect(dom.setMemoryParameters({ soft_limit: 2 ** 64 })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'soft_limit',
    });
    await expect(dom.setMemoryParameters({ soft_limit: -1 })).rejects.toMatchObject({ field: 'soft_limit' });
    await expect(dom.getMemoryParameters({ live: true, config: true })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'flags',
    });
    expect(await dom.getXML()).toBe(before);
    await conn.close();
  });
});
