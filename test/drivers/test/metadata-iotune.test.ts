/**
 * Metadata and block I/O tuning on the test driver, step by step beside
 * libvirt's test driver through python3-libvirt on test:///default: the same
 * values read back, the same XML, the same error codes, and the same
 * `metadata-change` events (libvirt's test driver sends no `tunable` event).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { connect } from '../../../src/connection.js';
import type { BlockIoTuneParams } from '../../../src/domain-tuning.js';
import type { AnyDomainEvent, MetadataKind } from '../../../src/driver.js';
import { errorCodeFromLibvirt } from '../../../src/drivers/remote/libvirt-errors.js';
import { VirError } from '../../../src/errors.js';
import { PYTHON_LIBVIRT } from '../remote/libvirtd.js';

/** One call, as both sides run it: flags 1 live, 2 config, 0 current. */
type Step =
  | ['setmd', MetadataKind, string | null, string | null, string | null, number]
  | ['getmd', MetadataKind, string | null, number]
  | ['xml', number]
  | ['setio', string, BlockIoTuneParams, number]
  | ['getio', string, number]
  | ['destroy'];

const APP = 'http://example.org/app/';
const STEPS: Step[] = [
  ['getmd', 'title', null, 0],
  ['getmd', 'element', APP, 0],
  ['setmd', 'element', '<foo a="1"><bar>x</bar><baz/></foo>', 'app', APP, 0],
  ['getmd', 'element', APP, 0],
  ['setmd', 'title', 'hello', null, null, 0],
  ['setmd', 'description', 'desc <&>', null, null, 2],
  ['xml', 0],
  ['xml', 2],
  ['getmd', 'description', null, 2],
  ['getmd', 'description', null, 1],
  ['setmd', 'title', 'a\nb', null, null, 0],
  ['setmd', 'description', 'x', 'k', null, 0],
  ['setmd', 'element', '<a/>', null, 'http://x/', 0],
  ['setmd', 'element', '<a/>', '1k', 'http://x/', 0],
  ['setmd', 'element', '<a>', 'k', 'http://x/', 0],
  ['setmd', 'element', '<a/><b/>', 'k', 'http://x/', 0],
  ['setmd', 'element', '<x>  text <y/> </x>', 'n', 'urn:x', 0],
  ['getmd', 'element', 'urn:x', 0],
  ['setmd', 'element', '<foo xmlns="urn:d"><b/></foo>', 'app', APP, 3],
  ['getmd', 'element', 'urn:d', 0],
  ['setmd', 'element', '<foo>\n  <b/>\n  <c>t</c>\n</foo>', 'q', 'urn:q', 0],
  ['getmd', 'element', 'urn:q', 0],
  ['xml', 0],
  ['xml', 2],
  ['setmd', 'element', null, null, APP, 0],
  ['setmd', 'title', '', null, null, 0],
  ['getmd', 'title', null, 0],
  ['xml', 0],
  ['getio', 'vda', 0],
  ['setio', 'vda', { total_bytes_sec: 1000, read_iops_sec: 50 }, 0],
  ['setio', 'vda', { total_bytes_sec: 10, read_bytes_sec: 10 }, 0],
  ['setio', 'vda', { total_bytes_sec_max: 100 }, 0],
  ['setio', 'vda', { total_bytes_sec: 50 }, 0],
  ['setio', 'vda', { total_bytes_sec: 150 }, 0],
  ['setio', 'vda', { read_bytes_sec_max: 100 }, 0],
  ['setio', 'vda', { read_bytes_sec_max_length: 5, group_name: 'g1', size_iops_sec: 7 }, 0],
  ['setio', 'vdz', { read_iops_sec: 1 }, 0],
  ['getio', 'vdz', 0],
  ['getio', '/guest/diskimage1', 0],
  ['getio', 'vda', 2],
  ['getio', 'vda', 3],
  ['setio', 'vda', { total_iops_sec_max: 9 }, 3],
  ['setio', 'vda', { write_iops_sec_max: 4, write_iops_sec: 2 }, 2],
  ['getio', 'vda', 2],
  ['xml', 0],
  ['xml', 2],
  ['destroy'],
  ['setmd', 'title', 'x', null, null, 1],
  ['getmd', 'title', null, 1],
  ['setmd', 'title', 'off', null, null, 0],
  ['getmd', 'title', null, 0],
  ['getio', 'vda', 0],
];

type Result = { ok: unknown } | { err: string };

/** The part of a domain document metadata lives in: up to `<memory>`. */
function head(xml: string): string {
  return xml.slice(0, xml.indexOf('<memory'));
}

/** libvirt's answers and events, through python3-libvirt. */
function libvirtRun(): { results: Result[]; events: [string, string | null][]; tunables: number } {
  const script = `
import json, sys, libvirt
libvirt.virEventRegisterDefaultImpl()
c = libvirt.open('test:///default')
ev, tun = [], []
KINDS = ['description', 'title', 'element']
c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, lambda conn, dom, t, ns, op: ev.append([KINDS[t], ns]), None)
c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_TUNABLE, lambda conn, dom, p, op: tun.append(p), None)
d = c.lookupByName('test')
out = []
for s in json.loads(sys.stdin.read()):
    try:
        if s[0] == 'setmd': r = d.setMetadata(KINDS.index(s[1]), s[2], s[3], s[4], s[5]); r = None
        elif s[0] == 'getmd': r = d.metadata(KINDS.index(s[1]), s[2], s[3])
        elif s[0] == 'xml': r = d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if s[1] == 2 else 0)
        elif s[0] == 'setio': d.setBlockIoTune(s[1], s[2], s[3]); r = None
        elif s[0] == 'getio': r = d.blockIoTune(s[1], s[2])
        elif s[0] == 'destroy': d.destroy(); r = None
        out.append({'ok': r})
    except libvirt.libvirtError as e:
        out.append({'err': e.get_error_code()})
# deliver what was queued: a timer ends the loop once the queue is empty
done = []
libvirt.virEventAddTimeout(0, lambda t, o: done.append(1), None)
while not done: libvirt.virEventRunDefaultImpl()
print(json.dumps({'results': out, 'events': ev, 'tunables': len(tun)}))
`;
  const raw = execFileSync(PYTHON_LIBVIRT as string, ['-c', script], {
    encoding: 'utf8',
    input: JSON.stringify(STEPS),
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const parsed = JSON.parse(raw) as {
    results: ({ ok: unknown } | { err: number })[];
    events: [string, string | null][];
    tunables: number;
  };
  return {
    ...parsed,
    results: parsed.results.map((r) => {
      if ('err' in r) return { err: errorCodeFromLibvirt(r.err) };
      return typeof r.ok === 'string' && r.ok.startsWith('<domain') ? { ok: head(r.ok) } : r;
    }),
  };
}

const AFFECT = (flags: number) => ({
  ...(flags & 1 ? { live: true } : {}),
  ...(flags & 2 ? { config: true } : {}),
});

describe('test driver metadata and block I/O tuning', () => {
  it.skipIf(!PYTHON_LIBVIRT)(
    "answer as libvirt's test driver, step by step (skipped without python3-libvirt)",
    async () => {
      const conn = await connect('test:///default');
      const events: AnyDomainEvent[] = [];
      const stream = conn.events({ ids: ['metadata-change', 'tunable'] });
      const reading = (async () => {
        for await (const e of stream) events.push(e);
      })();
      const dom = await conn.lookupDomain('test');
      const ours: Result[] = [];
      for (const s of STEPS) {
        try {
          let r: unknown = null;
          if (s[0] === 'setmd')
            await dom.setMetadata(s[1], s[2], {
              ...(s[3] !== null ? { key: s[3] } : {}),
              ...(s[4] !== null ? { uri: s[4] } : {}),
              ...AFFECT(s[5]),
            });
          else if (s[0] === 'getmd')
            r = await dom.getMetadata(s[1], { ...(s[2] !== null ? { uri: s[2] } : {}), ...AFFECT(s[3]) });
          else if (s[0] === 'xml') r = head(await dom.getXML({ inactive: s[1] === 2 }));
          else if (s[0] === 'setio') await dom.setBlockIoTune(s[1], s[2], AFFECT(s[3]));
          else if (s[0] === 'getio') r = await dom.getBlockIoTune(s[1], AFFECT(s[2]));
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
      expect(events.filter((e) => e.type === 'tunable')).toHaveLength(theirs.tunables);
      expect(
        events.flatMap((e) => (e.type === 'metadata-change' ? [[e.kind, e.nsuri ?? null]] : [])),
      ).toEqual(theirs.events);
    },
  );

  it('refuses bad arguments before the driver, naming the field', async () => {
    const conn = await connect('test:///default');
    const dom = await conn.lookupDomain('test');
    await expect(dom.setMetadata('title', 'a\nb')).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'metadata',
    });
    await expect(dom.setMetadata('element', '<a/>', { uri: 'urn:a' })).rejects.toMatchObject({
      field: 'key',
    });
    await expect(dom.setMetadata('bogus' as MetadataKind, 'x')).rejects.toMatchObject({ field: 'type' });
    await expect(dom.setBlockIoTune('vda', { bogus: 1 } as BlockIoTuneParams)).rejects.toMatchObject({
      code: 'ARGUMENT_UNSUPPORTED',
      field: 'bogus',
    });
    await expect(dom.setBlockIoTune('vda', { read_iops_sec: 1e16 })).rejects.toMatchObject({
      code: 'ARGUMENT_UNSUPPORTED',
      field: 'read_iops_sec',
    });
    await expect(dom.setBlockIoTune('vda', { read_iops_sec: -1 })).rejects.toMatchObject({
      code: 'INVALID_ARG',
    });
    // nothing changed by the refused calls
    await expect(dom.getMetadata('title')).rejects.toMatchObject({ code: 'NO_DOMAIN_METADATA' });
    expect((await dom.getBlockIoTune('vda')).read_iops_sec).toBe(0);
    await conn.close();
  });
});
