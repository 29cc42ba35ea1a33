/**
 * "Never silently drop", checked mechanically: every value the domain
 * model parsed out of a definition is either read by what starts the guest
 * (`buildCommandLine` and `runnerGuestFromDef`, the two places a definition
 * turns into QEMU's argv and QMP calls, and passt's argv for a passt-backed
 * interface) or refused with an error naming it
 * (by the builder, or at start by `hostSideSettings`).
 *
 * The definition is handed to them through a proxy that records each path
 * read (read-tracker.ts); every primitive value of the parsed model whose
 * path was never read was ignored. What is ignored on purpose, or not
 * consumed yet, is on not-consumed.json, path pattern → reason: a reason
 * starting "no effect:" is a value that cannot change what QEMU does; "helper:"
 * one a helper process started with the guest reads instead; "gap:"
 * is a real drop still to be refused or implemented. A value ignored that
 * the list does not name fails here, and so does an entry no case needs.
 * `VIRTKIT_UPDATE_NOT_CONSUMED=1 npx vitest run <this file>` rewrites the
 * list (after a merge), keeping the reasons it has.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  HARNESS,
  HARNESS_FIRMWARE,
  harnessCaps,
  harnessPaths,
  loadCaps,
} from '../../../scripts/conformance/domainxml-qemu.js';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { hostSideSettings } from '../../../src/drivers/qemu/domains/host-side-settings.js';
import { runnerGuestFromDef } from '../../../src/drivers/qemu/domains/runner-guest-from-def.js';
import { passtSpec } from '../../../src/drivers/qemu/lifecycle/passt.js';
import type { QemuCaps } from '../../../src/drivers/qemu/probe/qemu-caps.js';
import { VirError } from '../../../src/errors.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../../shared-data.js';
import { leafPaths, pattern, trackReads } from './read-tracker.js';

const LIST = JSON.parse(readFileSync(new URL('./not-consumed.json', import.meta.url), 'utf8')) as Record<
  string,
  string
>;

/** The paths of `def` nothing read while the guest's start was prepared; undefined when it was refused. */
function ignored(
  def: DomainDef,
  caps: QemuCaps,
  paths: Parameters<typeof buildCommandLine>[2],
): string[] | undefined {
  const t = trackReads(def);
  try {
    buildCommandLine(t.proxy, caps, paths);
  } catch (err) {
    if (err instanceof VirError) return undefined;
    throw err;
  }
  // the live XML is passed in: formatting it would read every field
  runnerGuestFromDef(t.proxy, '');
  // what the start refuses is reported, so it counts as read
  hostSideSettings(t.proxy);
  // a passt-backed interface's addresses, forwards, outbound device and log are passt's options
  for (const [i, n] of (t.proxy.devices?.interfaces ?? []).entries())
    if (n.backend?.type === 'passt')
      try {
        passtSpec(n, `/domain/devices/interface[${i + 1}]`, '/usr/bin/passt', {
          socket: '/s',
          logFile: '/l',
        });
      } catch (err) {
        if (!(err instanceof VirError)) throw err;
      }
  return leafPaths(def).filter((p) => !t.reads.has(p));
}

describe('read tracking', () => {
  it('records the paths read through the proxy, and lists every leaf by the same syntax', () => {
    const def = { a: 1, b: { c: 'x', d: [{ e: true }, { e: false }] }, f: undefined };
    const t = trackReads(def);
    expect(t.proxy.b.d[1]?.e).toBe(false);
    expect(leafPaths(def)).toEqual(['a', 'b.c', 'b.d[0].e', 'b.d[1].e']);
    expect(leafPaths(def).filter((p) => !t.reads.has(p))).toEqual(['a', 'b.c', 'b.d[0].e']);
  });

  it('keeps object identity through the proxy, so builders comparing devices still work', () => {
    const t = trackReads({ list: [{ n: 1 }, { n: 2 }] });
    const first = t.proxy.list[0];
    expect(t.proxy.list.indexOf(first!)).toBe(0);
    expect(new Map([[first, 1]]).get(t.proxy.list[0])).toBe(1);
  });

  it('reports kept XML once by its owner, whatever its depth', () => {
    expect(pattern('devices.disks[3]#unknown.nodes[0].node.attrs[1].value')).toBe('devices.disks[*]#unknown');
    expect(pattern('seclabels[0].children[2].children[0].value')).toBe('seclabels[*] (raw XML)');
    expect(pattern('devices.disks[10].source.file')).toBe('devices.disks[*].source.file');
  });

  it('catches a field the builder does not read: a parsed <disk><serial> on a builder that ignores it', () => {
    const caps = { fake: true } as unknown as QemuCaps;
    const def = DomainDef.fromXML(
      "<domain type='qemu'><name>t</name><memory>1024</memory><os><type>hvm</type></os><devices><disk type='file' device='disk'>" +
        "<source file='/a.img'/><target dev='vda' bus='virtio'/><serial>S1</serial></disk></devices></domain>",
    );
    const t = trackReads(def);
    // a "builder" that writes the disk's path and nothing else
    const argv = (t.proxy.devices?.disks ?? []).map((d) => `file=${d.source?.file}`);
    expect(argv).toEqual(['file=/a.img']);
    expect(caps).toBeDefined();
    const missed = leafPaths(def).filter((p) => !t.reads.has(p));
    expect(missed).toContain('devices.disks[0].serial');
    expect(missed).not.toContain('devices.disks[0].source.file');
  });
});

const CASES_FILE = join(SHARED_DIR, 'domainxml', 'cases.json');
const FIXTURES = new URL('../../../fixtures/virt-install/', import.meta.url).pathname;

describe.skipIf(!HAS_SHARED)(
  `every parsed field of libvirt's qemu cases and of the virt-install guests is consumed or refused${SHARED_NOTE}`,
  () => {
    it(`reads every value, except the ${Object.keys(LIST).length} path patterns listed (${
      Object.values(LIST).filter((r) => r.startsWith('gap:')).length
    } of them gaps)`, () => {
      const caps = harnessCaps(loadCaps(SHARED_DIR, '10.0.0'));
      const cases = (
        JSON.parse(readFileSync(CASES_FILE, 'utf8')) as Array<{
          name: string;
          family: string;
          expect: string;
          input: string;
        }>
      ).filter((c) => c.family === 'qemu' && c.expect === 'success');
      const seen = new Map<string, string>();
      let built = 0;
      // libvirt's inputs, then the guests virt-install writes (fixtures/virt-install)
      const inputs = [
        ...cases.map((c) => ({ name: c.name, file: join(SHARED_DIR, 'domainxml', c.input) })),
        ...readdirSync(FIXTURES)
          .filter((f) => f.endsWith('.xml'))
          .map((f) => ({ name: `virt-install/${f}`, file: join(FIXTURES, f) })),
      ];
      for (const c of inputs) {
        let def: DomainDef;
        try {
          def = DomainDef.fromXML(readFileSync(c.file, 'utf8').replace(/<!--[\s\S]*?-->[ \t]*\n?/g, ''), {
            ...HARNESS,
            deferImplicitControllers: true,
          });
          applyQemuDefaults(def, caps, { libDir: '/var/lib/libvirt/qemu', firmware: HARNESS_FIRMWARE });
        } catch (err) {
          if (err instanceof VirError) continue; // refused at define: nothing reaches QEMU
          throw err;
        }
        const missed = ignored(def, caps, harnessPaths(def.name));
        if (missed === undefined) continue;
        built++;
        for (const p of missed) if (!seen.has(pattern(p))) seen.set(pattern(p), `${c.name}: ${p}`);
      }
      expect(built).toBeGreaterThan(400);
      if (process.env.VIRTKIT_UPDATE_NOT_CONSUMED === '1') {
        // after a merge: drop entries no case needs, add new ones as gaps (then give them a reason)
        const next: Record<string, string> = {};
        for (const p of [...seen.keys()].sort())
          next[p] = LIST[p] ?? 'gap: parsed but not read by the command-line builder';
        writeFileSync(new URL('./not-consumed.json', import.meta.url), `${JSON.stringify(next, null, 2)}\n`);
        return;
      }
      const unlisted = [...seen].filter(([p]) => !Object.hasOwn(LIST, p)).map(([, where]) => where);
      expect(
        unlisted,
        'values parsed but neither read nor refused (read them, refuse them, or list them)',
      ).toEqual([]);
      const stale = Object.keys(LIST).filter((p) => !seen.has(p));
      expect(stale, 'not-consumed.json entries no case needs any more: take them off').toEqual([]);
    });
  },
);
