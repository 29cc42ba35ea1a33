/**
 * External memory snapshots against libvirt's own, from a private session
 * libvirtd 9.0 (as nobody, see test/drivers/qemu/libvirt-session.ts) on
 * the same kind of guest (SeaBIOS, one qcow2 disk, TCG): what libvirt
 * refuses we refuse with its words and the matching error code, what it
 * takes we take, writing the snapshot document with the same elements and
 * facts. Where we differ on purpose it is checked too: libvirt 9.0 writes
 * over an existing memory file, we refuse it without `reuseExt`.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainSnapshotDef } from '../../../src/conf/snapshot.js';
import { parseXml } from '../../../src/xml/parse.js';
import { childElements } from '../../../src/xml/tree.js';
import { CAN_RUN_LIBVIRT_SESSION, withLibvirtSession } from '../qemu/libvirt-session.js';
import { errorOf, guestXml, host, image, SKIP } from './helpers.js';

const WHY = SKIP !== '' ? SKIP : !CAN_RUN_LIBVIRT_SESSION ? 'needs root, virsh, libvirtd and setpriv' : '';

/** libvirt's error prefix of each code we give (virsh prints `error: <prefix>: <message>`). */
const PREFIX: Record<string, string> = {
  XML_ERROR: 'XML error',
  CONFIG_UNSUPPORTED: 'unsupported configuration',
  OPERATION_UNSUPPORTED: 'Operation not supported',
};

const snapDoc = (name: string, mem: string, disk: string) =>
  `<domainsnapshot><name>${name}</name><memory snapshot='external' file='${mem}'/><disks><disk name='vda' snapshot='${disk.startsWith('/') ? 'external' : disk}'>${disk.startsWith('/') ? `<source file='${disk}'/>` : ''}</disk></disks></domainsnapshot>`;

describe.skipIf(WHY !== '')(
  `external memory snapshots against libvirt's${WHY ? ` (skipped: ${WHY})` : ''}`,
  () => {
    it('the same refusals in the same words; the same document for what both take', async () => {
      const lv = withLibvirtSession((_virsh, home, run) => {
        const dir = join(home, 'images');
        mkdirSync(dir);
        const disk = join(dir, 'vk-qmemlv.qcow2');
        execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '8M']);
        const precious = join(dir, 'e1.mem');
        writeFileSync(precious, 'precious');
        chownSync(dir, 65534, 65534);
        for (const f of [disk, precious]) chownSync(f, 65534, 65534);
        const xmlPath = join(home, 'dom.xml');
        writeFileSync(xmlPath, guestXml('vk-qmemlv', disk));
        chmodSync(xmlPath, 0o644);
        const ok = (args: string[]) => {
          const r = run(args);
          expect(r.status, r.stderr).toBe(0);
          return r.stdout;
        };
        const snap = (path: string) => {
          const p = join(home, `${Math.random()}.xml`);
          writeFileSync(p, path);
          chmodSync(p, 0o644);
          return p;
        };
        const create = (doc: string, ...flags: string[]) =>
          run(['snapshot-create', 'vk-qmemlv', snap(doc), ...flags]);
        ok(['define', xmlPath]);
        const offline = create(snapDoc('m0', join(dir, 'm0.mem'), join(dir, 'm0.qcow2'))).stderr;
        ok(['start', 'vk-qmemlv']);
        const relative = create(snapDoc('m1', 'rel.mem', join(dir, 'm1.qcow2'))).stderr;
        const mixed = create(snapDoc('m2', join(dir, 'm2.mem'), 'internal')).stderr;
        const live = create(
          `<domainsnapshot><name>m3</name><disks><disk name='vda' snapshot='external'><source file='${join(dir, 'm3.qcow2')}'/></disk></disks></domainsnapshot>`,
          '--disk-only',
          '--live',
        ).stderr;
        const taken = create(snapDoc('r1', join(dir, 'r1.mem'), join(dir, 'r1.qcow2')));
        const r1 = ok(['snapshot-dumpxml', 'vk-qmemlv', 'r1']);
        const stateAfter = ok(['domstate', 'vk-qmemlv']).trim();
        const over = create(snapDoc('e1', precious, join(dir, 'e1.qcow2')));
        const preciousAfter = readFileSync(precious).subarray(0, 8).toString('latin1');
        run(['destroy', 'vk-qmemlv']);
        return { dir, offline, relative, mixed, live, taken, r1, stateAfter, over, preciousAfter };
      });

      const h = await host();
      const base = image(h, 'vk-qmemlv');
      const dom = await h.conn.defineDomain(guestXml('vk-qmemlv', base));
      const at = (f: string) => join(h.roots.path, f);
      // the model's parse errors carry the field and line before and after libvirt's words
      const same = (err: { code: string; message: string }, libvirt: string) => {
        const words = err.message.replace(/^\/\S+: /, '').replace(/ \(line \d+\)$/, '');
        expect(libvirt).toContain(`${PREFIX[err.code]}: ${words}`);
      };
      same(await errorOf(dom.createSnapshot(snapDoc('m0', at('m0.mem'), at('m0.qcow2')))), lv.offline);
      await dom.start();
      same(await errorOf(dom.createSnapshot(snapDoc('m1', 'rel.mem', at('m1.qcow2')))), lv.relative);
      same(await errorOf(dom.createSnapshot(snapDoc('m2', at('m2.mem'), 'internal'))), lv.mixed);
      same(
        await errorOf(
          dom.createSnapshot(
            `<domainsnapshot><name>m3</name><disks><disk name='vda' snapshot='external'><source file='${at('m3.qcow2')}'/></disk></disks></domainsnapshot>`,
            { diskOnly: true, live: true },
          ),
        ),
        lv.live,
      );
      for (const f of ['m0.mem', 'm1.qcow2', 'm2.mem', 'm3.qcow2']) expect(existsSync(at(f))).toBe(false);

      expect(lv.taken.status, lv.taken.stderr).toBe(0);
      await dom.createSnapshot(snapDoc('r1', at('r1.mem'), at('r1.qcow2')));
      expect(lv.stateAfter).toBe('running');
      expect((await dom.getState()).state).toBe('running');
      const theirs = DomainSnapshotDef.fromXML(lv.r1);
      const ours = DomainSnapshotDef.fromXML(await dom.getSnapshotXML('r1'));
      const facts = (s: DomainSnapshotDef, dir: string) => [
        s.state,
        s.memory?.snapshot,
        s.memory?.file?.replace(dir, '<dir>'),
        s.disks?.disk?.map((d) => [d.name, d.snapshot, d.source?.file?.replace(dir, '<dir>')]),
      ];
      expect(facts(ours, h.roots.path)).toEqual(facts(theirs, lv.dir));
      // the same elements, libvirt's <cookie> too (its save cookie: the CPU QEMU changed, <slirpHelper/>)
      const names = (xml: string) => childElements(parseXml(xml)).map((e) => e.name);
      expect(names(await dom.getSnapshotXML('r1'))).toEqual(names(lv.r1));
      const cookieOf = (xml: string) => {
        const c = childElements(parseXml(xml)).find((e) => e.name === 'cookie');
        return c ? childElements(c).map((e) => e.name) : undefined;
      };
      expect(cookieOf(await dom.getSnapshotXML('r1'))).toEqual(cookieOf(lv.r1));

      // on purpose unlike libvirt 9.0, which truncates an existing memory file and writes over it
      expect(lv.over.status, lv.over.stderr).toBe(0);
      expect(lv.preciousAfter).not.toBe('precious');
      writeFileSync(at('e1.mem'), 'precious');
      const e = await errorOf(dom.createSnapshot(snapDoc('e1', at('e1.mem'), at('e1.qcow2'))));
      expect([e.code, e.field]).toEqual(['OPERATION_INVALID', '/domainsnapshot/memory/@file']);
      expect(readFileSync(at('e1.mem'), 'utf8')).toBe('precious');
      await dom.destroy();
    });
  },
);
