/**
 * `nodedev-list` (`--tree`, `--cap`) beside the installed virsh on the same
 * private libvirtd's node device driver (the host's real devices, read
 * from udev by libvirt): both print the same. Other programs on the host
 * add and remove network devices meanwhile, so virsh runs before and after
 * ours and ours must equal one of its two answers.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Daemon, LIBVIRTD, startLibvirtd } from '../drivers/remote/libvirtd.js';
import { runCli } from './run-cli.js';
import { spawnVirsh } from './virsh-peer.js';

const HAS_VIRSH = spawnSync('virsh', ['--version'], { encoding: 'utf8' }).status === 0;

function virsh(uri: string, line: string) {
  const r = spawnVirsh(['-c', uri, line], { env: { ...process.env, LC_ALL: 'C' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe.skipIf(!HAS_VIRSH || !LIBVIRTD)(
  `nodedev-list beside virsh on a private libvirtd${HAS_VIRSH && LIBVIRTD ? '' : ' (skipped: no virsh or libvirtd)'}`,
  () => {
    let daemon: Daemon | undefined;
    beforeAll(async () => {
      daemon = await startLibvirtd();
    }, 30_000);
    afterAll(async () => {
      await daemon?.stop();
    });
    for (const line of [
      'nodedev-list --tree',
      'nodedev-list',
      'nodedev-list --cap net',
      'nodedev-list --cap pci,net',
      'nodedev-list --cap system',
      '-q nodedev-list --tree',
    ]) {
      it(`virsh '${line}'`, async () => {
        const uri = `nodedev+unix:///session?socket=${daemon?.socket}`;
        const words = line.startsWith('-q ') ? ['-q', line.slice(3)] : [line];
        const peer = (w: string[]) => {
          const r = spawnVirsh(['-c', uri, ...w], { env: { ...process.env, LC_ALL: 'C' } });
          return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
        };
        const before = peer(words);
        const ours = await runCli(['-c', uri, ...words]);
        const after = peer(words);
        expect(before.code).toBe(0);
        expect([before, after]).toContainEqual(ours);
        if (line.includes('--tree')) expect(ours.out).toMatch(/^computer\n {2}\|\n {2}\+- /);
      });
    }
  },
);

describe.skipIf(!HAS_VIRSH)(
  `nodedev-list's refusals beside virsh${HAS_VIRSH ? '' : ' (skipped: no virsh)'}`,
  () => {
    for (const line of [
      'nodedev-list --tree --cap net',
      'nodedev-list --tree --inactive',
      'nodedev-list --inactive --all',
      'nodedev-list --help',
    ]) {
      it(`virsh '${line}'`, async () => {
        expect(await runCli(['-c', 'test:///default', line])).toEqual(virsh('test:///default', line));
      });
    }
  },
);
