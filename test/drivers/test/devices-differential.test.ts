/**
 * Device-rich domains (disks on every bus, interfaces, chardevs, graphics,
 * video, watchdog, RNG, TPM, filesystems, host devices, CPU, clock, ...)
 * defined on virtkit's test driver and on libvirt's: the XML after define
 * (plain and secure), while running, and the next-boot XML while running
 * must be the same document, byte for byte. libvirt's answers come live
 * from python3-libvirt when it is installed, else as recorded from it
 * (re-record with `VIRTKIT_RECORD=1 npx vitest run
 * test/drivers/test/devices-differential.test.ts`, python3-libvirt needed).
 *
 * `<metadata>` is left out of the inputs: libvirt writes foreign XML with
 * double quotes, virtkit's serializer with single ones.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connect } from '../../../src/connection.js';
import { VirError } from '../../../src/errors.js';
import { fixture } from '../../shared-data.js';
import { hasPythonLibvirt } from './differential-runner.js';

interface Shown {
  ok: boolean;
  code?: string | number;
  defined?: string;
  secure?: string;
  live?: string;
  inactive?: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const DOMAINS = (
  JSON.parse(readFileSync(fixture('test-driver', 'device-domains.json'), 'utf8')) as { domains: string[] }
).domains;
const RECORDED = fixture('test-driver', 'device-domains-libvirt.json');
const LIVE = hasPythonLibvirt();

function libvirtShows(): Shown[] {
  if (!LIVE) return (JSON.parse(readFileSync(RECORDED, 'utf8')) as { results: Shown[] }).results;
  const r = spawnSync('/usr/bin/python3', [join(here, 'devices-runner.py')], {
    input: JSON.stringify(DOMAINS),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`libvirt runner failed: ${r.stderr}`);
  const results = JSON.parse(r.stdout) as Shown[];
  if (process.env.VIRTKIT_RECORD === '1') {
    writeFileSync(
      RECORDED,
      `${JSON.stringify({ libvirtVersion: 9000000, domains: DOMAINS.length, results }, null, 2)}\n`,
    );
  }
  return results;
}

async function virtkitShows(): Promise<Shown[]> {
  const conn = await connect('test:///default');
  const out: Shown[] = [];
  for (const xml of DOMAINS) {
    try {
      const d = await conn.defineDomain(xml);
      const defined = await d.getXML();
      const secure = await d.getXML({ secure: true });
      await d.start();
      const live = await d.getXML();
      const inactive = await d.getXML({ inactive: true });
      await d.destroy();
      await d.undefine();
      out.push({ ok: true, defined, secure, live, inactive });
    } catch (err) {
      if (!(err instanceof VirError)) throw err;
      out.push({ ok: false, code: err.code });
    }
  }
  await conn.close();
  return out;
}

/**
 * The peer is libvirt 9.0; virtkit follows libvirt 11.3, which since 10.1 writes `clusters` in
 * every CPU topology (1 when the definition had none). That one difference is added to the
 * peer's side; everything else must be equal.
 */
function asLibvirt11(shown: Shown | undefined): Shown | undefined {
  if (!shown?.ok) return shown;
  const fix = (xml: string | undefined) =>
    xml?.replace(/(<topology sockets='\d+' dies='\d+') (cores=)/g, "$1 clusters='1' $2");
  const out: Shown = { ok: true };
  for (const k of ['defined', 'secure', 'live', 'inactive'] as const) {
    const v = fix(shown[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

describe(`test driver device XML vs libvirt's (${LIVE ? 'live python3-libvirt' : 'recorded libvirt 9.0 answers'})`, () => {
  it('writes every domain as libvirt does: defined, secure, live and next-boot', async () => {
    const theirs = libvirtShows();
    const ours = await virtkitShows();
    expect(theirs).toHaveLength(DOMAINS.length);
    for (let i = 0; i < DOMAINS.length; i++) {
      expect(theirs[i]?.ok, `libvirt defines domain ${i}`).toBe(true);
      expect(ours[i], `domain ${i}`).toEqual(asLibvirt11(theirs[i]));
    }
  });

  it('hands out the same definition typed, for every domain, live and next-boot', async () => {
    const conn = await connect('test:///default');
    for (const xml of DOMAINS) {
      const d = await conn.defineDomain(xml);
      expect((await d.getDefinition()).toXML(), d.name).toBe(await d.getXML());
      await d.start();
      expect((await d.getDefinition()).toXML(), d.name).toBe(await d.getXML());
      const next = await d.getDefinition({ inactive: true });
      expect(next.toXML({ inactive: true }), d.name).toBe(await d.getXML({ inactive: true }));
      await d.destroy();
      await d.undefine();
    }
    await conn.close();
  });

  it('hands out the definition as a copy of the caller', async () => {
    const conn = await connect('test:///default');
    const d = await conn.defineDomain(DOMAINS[0]!);
    const def = await d.getDefinition();
    expect(def.toXML()).toBe(await d.getXML());
    // graphics passwords only with secure, as in the XML
    expect(def.devices?.graphics?.[0]?.passwd).toBeUndefined();
    expect((await d.getDefinition({ secure: true })).devices?.graphics?.[0]?.passwd).toBe('x');
    def.name = 'changed';
    expect((await d.getDefinition()).name).toBe(d.name);
    await d.start();
    const live = await d.getDefinition();
    expect(live.id).toBe(d.id);
    expect(live.toXML()).toBe(await d.getXML());
    expect((await d.getDefinition({ inactive: true })).id).toBeUndefined();
    await conn.close();
  });
});
