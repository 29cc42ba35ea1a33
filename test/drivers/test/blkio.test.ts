/**
 * Block I/O parameters on the test driver, step by step beside libvirt's
 * test driver through python3-libvirt on test:///default: the same values
 * and lists read back, the same `<blkiotune>` in the XML, the same error
 * codes and messages for lists libvirt cannot parse.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { connect } from '../../../src/connection.js';
import type { BlkioParameters } from '../../../src/domain-tuning-blkio.js';
import { errorCodeFromLibvirt } from '../../../src/drivers/remote/libvirt-errors.js';
import { VirError } from '../../../src/errors.js';
import { PYTHON_LIBVIRT } from '../remote/libvirtd.js';

/** One call, as both sides run it: flags 1 live, 2 config, 0 current. */
type Step = ['get', number] | ['set', BlkioParameters, number] | ['xml', number] | ['destroy'];

const STEPS: Step[] = [
  ['get', 0],
  ['get', 1],
  ['get', 2],
  ['set', { weight: 500 }, 0],
  ['set', { device_weight: '/dev/sda,300' }, 0],
  ['set', { device_read_iops_sec: '/dev/sda,100,/dev/sdb,200' }, 1],
  ['set', { device_write_bytes_sec: '/dev/sdb,1000', device_read_bytes_sec: '/dev/sdc, +7' }, 0],
  ['get', 0],
  ['xml', 0],
  ['set', { device_weight: '/dev/sda,0' }, 0],
  ['set', { device_read_iops_sec: '/dev/sdz,0' }, 0],
  ['set', { device_read_iops_sec: '' }, 0],
  ['get', 1],
  ['set', { weight: 5000 }, 0],
  ['set', { weight: 0, device_write_iops_sec: ',10' }, 0],
  ['get', 0],
  ['xml', 0],
  ['set', { device_weight: '/dev/sda' }, 0],
  ['set', { device_weight: '/dev/sda,abc' }, 0],
  ['set', { device_weight: '/dev/sda,10,' }, 0],
  ['set', { device_weight: '/dev/sda,' }, 0],
  ['set', { device_read_iops_sec: '/dev/sdc,4294967296' }, 0],
  ['set', { device_read_bytes_sec: '/dev/sdc,-1,/dev/sdd,5' }, 0],
  ['set', { device_read_bytes_sec: '/dev/sdc,5 ' }, 0],
  ['set', { device_read_bytes_sec: '/dev/sdc,0x5' }, 0],
  ['set', { device_weight: 'a,1,b,2,c' }, 0],
  ['set', { weight: 1 }, 3],
  ['get', 3],
  ['set', { weight: 700, device_weight: '/dev/vda,250' }, 2],
  ['get', 2],
  ['xml', 2],
  ['get', 0],
  ['destroy'],
  ['get', 0],
  ['get', 1],
  ['set', { weight: 10 }, 1],
  ['set', { device_write_bytes_sec: '/dev/vda,1048576' }, 0],
  ['get', 0],
  ['xml', 0],
];

type Result = { ok: unknown } | { err: string; message?: string };

/** The part of a domain document the tunables live in: from `<currentMemory>` to `<vcpu>`. */
function tunes(xml: string): string {
  return xml.slice(xml.indexOf('<currentMemory'), xml.indexOf('<vcpu'));
}

function libvirtRun(): Result[] {
  const script = `
import json, sys, libvirt
libvirt.registerErrorHandler(lambda c, e: None, None)
c = libvirt.open('test:///default')
d = c.lookupByName('test')
out = []
for s in json.loads(sys.stdin.read()):
    try:
        if s[0] == 'get': r = d.blkioParameters(s[1])
        elif s[0] == 'set': d.setBlkioParameters(s[1], s[2]); r = None
        elif s[0] == 'xml': r = d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if s[1] == 2 else 0)
        elif s[0] == 'destroy': d.destroy(); r = None
        out.append({'ok': r})
    except libvirt.libvirtError as e:
        out.append({'err': e.get_error_code(), 'message': e.get_error_message()})
print(json.dumps(out))
`;
  const raw = execFileSync(PYTHON_LIBVIRT as string, ['-c', script], {
    encoding: 'utf8',
    input: JSON.stringify(STEPS),
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  return (JSON.parse(raw) as ({ ok: unknown } | { err: number; message: string })[]).map((r) => {
    if ('err' in r) return { err: errorCodeFromLibvirt(r.err), message: r.message };
    return typeof r.ok === 'string' && r.ok.startsWith('<domain') ? { ok: tunes(r.ok) } : r;
  });
}

const AFFECT = (flags: number) => ({
  ...(flags & 1 ? { live: true } : {}),
  ...(flags & 2 ? { config: true } : {}),
});

describe('test driver block I/O parameters', () => {
  it.skipIf(!PYTHON_LIBVIRT)(
    "answer as libvirt's test driver, step by step (skipped without python3-libvirt)",
    async () => {
      const conn = await connect('test:///default');
      const dom = await conn.lookupDomain('test');
      const ours: Result[] = [];
      for (const s of STEPS) {
        try {
          let r: unknown = null;
          if (s[0] === 'get') r = await dom.getBlkioParameters(AFFECT(s[1]));
          else if (s[0] === 'set') await dom.setBlkioParameters(s[1], AFFECT(s[2]));
          else if (s[0] === 'xml') r = tunes(await dom.getXML({ inactive: s[1] === 2 }));
          else await dom.destroy();
          ours.push({ ok: r });
        } catch (err) {
          if (!(err instanceof VirError)) throw err;
          ours.push({ err: err.code, message: err.message });
        }
      }
      await conn.close();
      const theirs = libvirtRun();
      for (const [i, s] of STEPS.entries()) {
        const o = ours[i] as Result;
        const t = theirs[i] as Result;
        if ('err' in t && 'err' in o) {
          expect(o.err, JSON.stringify(s)).toBe(t.err);
          // libvirt's text carries the code's phrase first ("invalid argument: ...")
          expect(t.message, JSON.stringify(s)).toContain(o.message);
        } else expect(o, JSON.stringify(s)).toEqual(t);
      }
    },
  );

  it('refuses bad arguments, naming the parameter, and changes nothing', async () => {
    const conn = await connect('test:///default');
    const dom = await conn.lookupDomain('test');
    await dom.setBlkioParameters({ weight: 300 });
    const before = await dom.getXML();
    await expect(dom.setBlkioParameters({ bogus: 1 } as BlkioParameters)).rejects.toMatchObject({
      code: 'ARGUMENT_UNSUPPORTED',
      field: 'bogus',
    });
    await expect(dom.setBlkioParameters({ weight: -1 })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'weight',
    });
    await expect(dom.setBlkioParameters({ weight: 2 ** 32 })).rejects.toMatchObject({ field: 'weight' });
    await expect(
      dom.setBlkioParameters({ device_weight: 5 } as unknown as BlkioParameters),
    ).rejects.toMatchObject({ code: 'INVALID_ARG', field: 'device_weight' });
    // libvirt's test driver would keep the weight it applied before the bad list; virtkit keeps nothing
    await expect(dom.setBlkioParameters({ weight: 1, device_weight: 'x' })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'device_weight',
    });
    await expect(dom.getBlkioParameters({ live: true, config: true })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'flags',
    });
    expect(await dom.getXML()).toBe(before);
    await conn.close();
  });
});
