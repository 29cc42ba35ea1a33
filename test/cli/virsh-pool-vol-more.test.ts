/**
 * `pool-define-as`, `pool-create-as`, `vol-clone`, `vol-upload` and
 * `vol-download` beside the installed virsh: on test:///default (whose
 * storage has no upload or download, so both refuse those), and the byte
 * transfers on a private libvirtd's dir pool, where the files each side
 * downloads are compared with what was uploaded.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Daemon, LIBVIRTD, startLibvirtd } from '../drivers/remote/libvirtd.js';
import { runCli } from './run-cli.js';
import { spawnVirsh } from './virsh-peer.js';

const HAS_VIRSH = spawnSync('virsh', ['--version'], { encoding: 'utf8' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'vk-cli2-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const masked = (r: { code: number; out: string; err: string }) => ({
  code: r.code,
  out: r.out.replace(UUID, 'UUID'),
  err: r.err.replace(UUID, 'UUID'),
});

function virsh(uri: string, ...words: string[]): { code: number; out: string; err: string } {
  const r = spawnVirsh(['-c', uri, ...words], {
    env: { ...process.env, LC_ALL: 'C', VIRSH_DEFAULT_CONNECT_URI: '' },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const UP = join(dir, 'up.bin');
writeFileSync(UP, 'virtkit upload test\n');
const MISSING = join(dir, 'missing.bin');

describe.skipIf(!HAS_VIRSH)(
  `pool-*-as and vol-clone beside virsh on test:///default${HAS_VIRSH ? '' : ' (skipped: no virsh)'}`,
  () => {
    for (const line of [
      'pool-define-as --help',
      'pool-create-as --help',
      'vol-clone --help',
      'vol-upload --help',
      'vol-download --help',
      'pool-define-as p7 netfs h /exp - - /t --print-xml',
      'pool-define-as p8 netfs h --print-xml --target /t --source-format nfs --auth-type chap ' +
        '--auth-username u --secret-usage su --adapter-name a --source-protocol-ver 3 ' +
        '--source-initiator iqn.x --source-name n --source-dev d --source-path sp',
      'pool-define-as p9 scsi --adapter-wwnn 1 --adapter-wwpn 2 --adapter-parent p --adapter-parent-wwnn 3 ' +
        '--adapter-parent-wwpn 4 --adapter-parent-fabric-wwn 5 --print-xml --secret-uuid u --auth-type ceph --auth-username x',
      'pool-define-as p9 scsi --adapter-wwnn 1 --adapter-wwpn 2 --adapter-parent-wwnn 3 --adapter-parent-wwpn 4 --print-xml',
      'pool-define-as p9 scsi --adapter-wwnn 1 --adapter-wwpn 2 --adapter-parent-wwnn 3 --adapter-parent-fabric-wwn 5 --print-xml',
      'pool-define-as p9 scsi --adapter-wwnn 1 --adapter-name n --auth-type chap --auth-username u --secret-usage s --print-xml',
      'pool-define-as p9 scsi --secret-uuid x --auth-type chap --auth-username u --secret-usage s --print-xml',
      'pool-define-as p9',
      'pool-define-as p3 dir --target /p3; pool-list --all; pool-info p3; pool-dumpxml p3; pool-start p3; pool-list',
      'pool-create-as p4 netfs host1 /exp --target /mnt/x; pool-dumpxml p4; pool-list --all --details',
      '-q pool-define-as p5 dir - - - - /p5; pool-list --all',
      'vol-create-as default-pool v1 1M; vol-clone v1 v2 --pool default-pool; vol-list default-pool --details; ' +
        'vol-clone v1 v3 --pool default-pool --print-xml; vol-clone /default-pool/v1 v4; vol-info v4 --pool default-pool',
      'vol-clone nope x --pool default-pool',
      'vol-clone default-pool/nope x',
      'vol-create-as default-pool v1 1M; vol-clone v1 v1 --pool default-pool',
      `vol-create-as default-pool v1 1M; vol-upload v1 ${MISSING} --pool default-pool`,
      `vol-create-as default-pool v1 1M; vol-download v1 ${join(dir, 'no/such/dir')} --pool default-pool`,
      `vol-upload v1 ${UP} --offset x`,
    ]) {
      it(`virsh '${line.replaceAll(dir, 'DIR')}'`, async () => {
        const words = line.startsWith('-q ') ? ['-q', line.slice(3)] : [line];
        const theirs = virsh('test:///default', ...words);
        const ours = await runCli(['-c', 'test:///default', ...words]);
        expect(masked(ours)).toEqual(masked(theirs));
      });
    }

    // The cause comes from the library's own words; the first line, the cause's kind and the status are virsh's.
    for (const [line, kind] of [
      ['pool-define-as p11 bogus', ''],
      ['pool-create-as p12 dir', 'XML error:'],
      [
        `vol-create-as default-pool v1 1M; vol-upload v1 ${UP} --pool default-pool`,
        'this function is not supported',
      ],
      [
        `vol-create-as default-pool v1 1M; vol-download v1 ${join(dir, 'd.bin')} --pool default-pool`,
        'this function is not supported',
      ],
    ] as const) {
      it(`virsh '${line.replaceAll(dir, 'DIR')}' (first error line)`, async () => {
        const theirs = virsh('test:///default', line);
        const ours = await runCli(['-c', 'test:///default', line]);
        expect(ours.code).toBe(theirs.code);
        expect(ours.out).toBe(theirs.out);
        const [first, second] = ours.err.split('\n');
        expect(first).toBe(theirs.err.split('\n')[0]);
        expect(second?.startsWith(`error: ${kind}`)).toBe(true);
      });
    }

    it('leaves no file behind when a download is refused', async () => {
      const target = join(dir, 'refused.bin');
      await runCli([
        '-c',
        'test:///default',
        `vol-create-as default-pool v1 1M; vol-download v1 ${target} --pool default-pool`,
      ]);
      expect(existsSync(target)).toBe(false);
    });
  },
);

describe.skipIf(!HAS_VIRSH || !LIBVIRTD)(
  `vol-upload, vol-download and vol-clone beside virsh on a private libvirtd${HAS_VIRSH && LIBVIRTD ? '' : ' (skipped: no virsh or libvirtd)'}`,
  () => {
    let daemon: Daemon | undefined;
    beforeAll(async () => {
      daemon = await startLibvirtd();
    }, 30_000);
    afterAll(async () => {
      await daemon?.stop();
    });

    it('moves the same bytes as virsh, at the same offsets', async () => {
      const uri = `storage+unix:///session?socket=${daemon?.socket}`;
      const target = join(daemon?.dir ?? dir, 'vk-cli2-pool');
      const xml = join(dir, 'dirpool.xml');
      writeFileSync(
        xml,
        `<pool type='dir'><name>vk-cli2-pool</name><target><path>${target}</path></target></pool>\n`,
      );
      const run = async (who: 'virsh' | 'ours') => {
        const out = (n: string) => join(dir, `${who}-${n}.bin`);
        const line =
          `pool-define ${xml}; pool-build vk-cli2-pool; pool-start vk-cli2-pool; ` +
          'vol-create-as vk-cli2-pool v1 64; ' +
          `vol-upload v1 ${UP} --pool vk-cli2-pool --offset 4; ` +
          `vol-download v1 ${out('all')} --pool vk-cli2-pool; ` +
          `vol-download v1 ${out('part')} --pool vk-cli2-pool --offset 12 --length 6; ` +
          'vol-clone v1 v2 --pool vk-cli2-pool; vol-list vk-cli2-pool; ' +
          `vol-download v2 ${out('clone')} --pool vk-cli2-pool --length 10; ` +
          'vol-delete v2 --pool vk-cli2-pool; vol-delete v1 --pool vk-cli2-pool; ' +
          'pool-destroy vk-cli2-pool; pool-undefine vk-cli2-pool';
        const r = who === 'virsh' ? virsh(uri, line) : await runCli(['-c', uri, line]);
        const files = ['all', 'part', 'clone'].map((n) => readFileSync(out(n)).toString('latin1'));
        return { r: { ...r, out: r.out.replaceAll(`${who}-`, 'WHO-') }, files };
      };
      const theirs = await run('virsh');
      const ours = await run('ours');
      expect(ours.r).toEqual(theirs.r);
      expect(ours.files).toEqual(theirs.files);
      const zeros = (n: number) => '\0'.repeat(n);
      const content = 'virtkit upload test\n';
      expect(ours.files[0]).toBe(zeros(4) + content + zeros(64 - 4 - content.length));
      expect(ours.files[1]).toBe('upload');
      expect(ours.files[2]).toBe(zeros(4) + content.slice(0, 6));
    }, 60_000);
  },
);
