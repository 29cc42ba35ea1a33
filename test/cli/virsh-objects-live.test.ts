/**
 * Differential test of the storage, network, node device and secret commands against the real
 * `virsh -c test:///default` (Debian's libvirt-clients) when installed:
 * both run the same command chains on a fresh test:///default and print
 * the same, byte for byte, with the same exit status.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Daemon, LIBVIRTD, startLibvirtd } from '../drivers/remote/libvirtd.js';
import { runCli } from './run-cli.js';
import { spawnVirsh } from './virsh-peer.js';

const HAS_VIRSH = spawnSync('virsh', ['--version'], { encoding: 'utf8' }).status === 0;

const dir = mkdtempSync(join(tmpdir(), 'vk-cliobj-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const POOL = file('p.xml', "<pool type='dir'><name>p2</name><target><path>/p2</path></target></pool>\n");
const VOL = file('v.xml', "<volume><name>vx</name><capacity unit='KiB'>4096</capacity></volume>\n");
const NET = file('n.xml', '<network><name>n1</name></network>\n');
const NET1 = file('n1.xml', '<network><name>n1</name></network>\n');
const MISSING = join(dir, 'missing.xml');
// the UUIDs libvirt and virtkit make up for a new object differ
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const masked = (r: { code: number; out: string; err: string }) => ({
  code: r.code,
  out: r.out.replace(UUID, 'UUID'),
  err: r.err.replace(UUID, 'UUID'),
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function virsh(args: string[]): { code: number; out: string; err: string } {
  const r = spawnVirsh(['-c', 'test:///default', ...args], {
    env: { ...process.env, LC_ALL: 'C', VIRSH_DEFAULT_CONNECT_URI: '' },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe.skipIf(!HAS_VIRSH)(
  `virtkit's object commands beside the installed virsh${HAS_VIRSH ? '' : ' (skipped: no virsh)'}`,
  () => {
    for (const line of [
      'pool-list',
      'pool-list --all',
      'pool-list --details',
      'pool-list --inactive --all',
      'pool-info default-pool',
      'pool-info --bytes default-pool',
      'pool-dumpxml default-pool',
      'pool-info nope',
      'pool-destroy default-pool; pool-list --all; pool-list --inactive; pool-info default-pool; ' +
        'pool-list --all --details; vol-list default-pool; pool-start default-pool; ' +
        'pool-autostart default-pool; pool-list; pool-autostart default-pool --disable; pool-refresh default-pool',
      'pool-build default-pool',
      'pool-undefine default-pool',
      'pool-start default-pool',
      `pool-define ${POOL}; pool-list --all --details; pool-build p2; pool-start p2; pool-autostart p2; ` +
        'pool-list --details; pool-destroy p2; pool-undefine p2; pool-list --all',
      `pool-create ${POOL}; pool-list --all; vol-create p2 ${VOL}; vol-list p2 --details; vol-info vx --pool p2; ` +
        'vol-info /p2/vx; vol-path --pool p2 nope; vol-delete nope --pool p2; pool-destroy p2; pool-list --all',
      `pool-define ${MISSING}`,
      'vol-list nope',
      'vol-info default-pool/x',
      'vol-create-as default-pool v1 10M; vol-create-as default-pool v2 1G --format qcow2; vol-list default-pool; ' +
        'vol-info v1 --pool default-pool; vol-info v1; vol-path v1 --pool default-pool; ' +
        'vol-dumpxml --pool default-pool v1; vol-path /default-pool/v2; vol-delete --pool default-pool v1; ' +
        'vol-list default-pool --details',
      'vol-create-as default-pool v1 1024 --allocation 0; vol-create-as default-pool v1 1024; ' +
        'vol-info --bytes v1 --pool default-pool',
      'vol-create-as default-pool v1 10X',
      'vol-create-as default-pool v1 1.5M',
      'vol-create-as default-pool v1 abc',
      'vol-create-as default-pool v1 1M --allocation 1X',
      'pool-info --help',
      'net-list',
      'net-list --all',
      'net-list --all --inactive',
      'net-list --name; net-list --uuid',
      'net-list --name --uuid',
      'net-info default',
      'net-dumpxml default',
      'net-uuid default',
      'net-name dd8fe884-6c02-601e-7551-cca97df1c5df',
      'net-info dd8fe884-6c02-601e-7551-cca97df1c5df',
      'net-name default',
      'net-name dd8fe884-6c02-601e-7551-cca97df1c5d0',
      'net-uuid dd8fe884-6c02-601e-7551-cca97df1c5df',
      'net-destroy default; net-list --all; net-list --inactive; net-start default; net-autostart default; ' +
        'net-list; net-autostart default --disable',
      'net-info nope',
      'net-undefine default',
      'net-start default',
      `net-define ${NET1}; net-list --all; net-start n1; net-info n1; net-destroy n1; net-undefine n1; ` +
        `net-create ${NET1}; net-list --all; net-info n1; net-undefine n1; net-destroy n1; net-list --all`,
      `net-define ${MISSING}`,
      'net-dhcp-leases --help',
      'net-info --help',
      'nodedev-dumpxml computer',
      'nodedev-dumpxml nope',
      'nodedev-detach nope',
      'nodedev-list --cap bogus',
      'nodedev-detach --help',
      'secret-get-value --help',
      'secret-list --help',
      `secret-define ${MISSING}`,
    ]) {
      it(`virsh '${line.replaceAll(dir, 'DIR')}'`, async () => {
        const theirs = virsh([line]);
        const ours = await runCli(['-c', 'test:///default', line]);
        expect(masked(ours)).toEqual(masked(theirs));
      });
    }

    // The cause's words come from the library (its XML parser, its driver calls), not libvirt: the
    // first line, the cause's kind and the status are virsh's.
    for (const [line, kind] of [
      [`pool-define ${NET}`, 'XML error:'],
      [`vol-create default-pool ${NET}`, 'XML error:'],
      [`net-define ${POOL}`, 'XML error:'],
      // libvirt names its API function, virtkit the driver call it lacks
      ['net-dhcp-leases default', 'this function is not supported by the connection driver:'],
      ['nodedev-detach scsi_host1', 'this function is not supported by the connection driver:'],
      ['nodedev-reset scsi_host1', 'this function is not supported by the connection driver:'],
      // libvirt names its API's argument, virtkit the bad value
      ['secret-dumpxml nope', ''],
    ] as const) {
      it(`virsh '${line.replaceAll(dir, 'DIR')}' (first error line)`, async () => {
        const theirs = virsh([line]);
        const ours = await runCli(['-c', 'test:///default', line]);
        expect(ours.code).toBe(theirs.code);
        expect(ours.out).toBe(theirs.out);
        const [first, second] = ours.err.split('\n');
        expect(first).toBe(theirs.err.split('\n')[0]);
        expect(second?.startsWith(`error: ${kind}`)).toBe(true);
      });
    }
  },
);

// Debian's test:///default has no secrets, so these run on virtkit's test driver
// and check the values against coreutils' base64 and virsh's documented messages.
describe('secret commands on test:///default', () => {
  const uuid = '6dd3e4a5-1d76-44ce-961f-f119f5aad935';
  const SECRET = file(
    's.xml',
    `<secret ephemeral='no' private='no'><uuid>${uuid}</uuid>` +
      "<usage type='volume'><volume>/var/lib/libvirt/images/x.img</volume></usage></secret>\n",
  );
  const PLAIN = file('plain.txt', 'hunter2');
  const coreutilsBase64 = (text: string) =>
    spawnSync('base64', ['-w0'], { input: text, encoding: 'utf8' }).stdout.trim();

  it('defines, lists, sets and gets a value, and undefines', async () => {
    const b64 = coreutilsBase64('hunter2');
    const r = await runCli([
      '-c',
      'test:///default',
      `secret-define ${SECRET}; secret-list; secret-set-value ${uuid} --base64 ${b64}; secret-get-value ${uuid}; ` +
        `secret-set-value ${uuid} --file ${PLAIN} --plain; secret-get-value ${uuid} --plain; ` +
        `secret-undefine ${uuid}; secret-list`,
    ]);
    expect(r.err).toBe('error: Passing secret value as command-line argument is insecure!\n');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual([
      `Secret ${uuid} created`,
      '',
      ' UUID                                   Usage',
      '-'.repeat(78),
      ` ${uuid}   volume /var/lib/libvirt/images/x.img`,
      '',
      'Secret value set',
      '',
      b64,
      'Secret value set',
      '',
      'hunter2',
      `Secret ${uuid} deleted`,
      '',
      ' UUID   Usage',
      '---------------',
      '',
      '',
    ]);
  });

  it('refuses bad input in one line each, never echoing a value', async () => {
    const r = await runCli([
      '-c',
      'test:///default',
      `secret-define ${SECRET}; secret-set-value ${uuid} --base64 '!hunter2!'; secret-set-value ${uuid}; ` +
        `secret-set-value ${uuid} --plain --base64 aGk=; secret-set-value ${uuid} --file ${MISSING}; ` +
        `secret-get-value 00000000-0000-0000-0000-000000000001`,
    ]);
    expect(r.code).toBe(1);
    expect(r.err.split('\n')).toEqual([
      'error: Passing secret value as command-line argument is insecure!',
      'error: Invalid base64 data',
      'error: Input secret value is missing',
      'error: Options --plain and --base64 are mutually exclusive',
      `error: failed to read secret from file '${MISSING}'`,
      "error: failed to get secret '00000000-0000-0000-0000-000000000001'",
      expect.stringMatching(/^error: Secret not found: /),
      '',
    ]);
    expect(r.err + r.out).not.toContain('hunter2');
  });
});

// A private libvirtd's secret and storage drivers, beside virsh on the same daemon:
// virsh's chain first (it ends by removing what it made), then ours.
describe.skipIf(!HAS_VIRSH || !LIBVIRTD)(
  `secret and storage commands beside virsh on a private libvirtd${HAS_VIRSH && LIBVIRTD ? '' : ' (skipped: no virsh or libvirtd)'}`,
  () => {
    let daemon: Daemon | undefined;
    beforeAll(async () => {
      daemon = await startLibvirtd();
    }, 30_000);
    afterAll(async () => {
      await daemon?.stop();
    });
    const uuid = 'b1c4b9f4-2f0e-4d5c-9a53-2d8a6a0cfe11';
    const SECRET = file(
      'vk-cliobj-secret.xml',
      `<secret ephemeral='no' private='no'><uuid>${uuid}</uuid>` +
        "<usage type='ceph'><name>client.vk-cliobj</name></usage></secret>\n",
    );
    const B64 = file('b64.txt', 'aHVudGVyMg==\n');
    const PLAIN = file('plain2.txt', 'hunter2');
    // a dir pool on the daemon's real storage driver, in the daemon's own directory (built
    // as the daemon's user): resize and wipe run here, which test:///default lacks
    it('virsh vol-resize and vol-wipe on a dir pool of storage:///session', async () => {
      const uri = `storage+unix:///session?socket=${daemon?.socket}`;
      const target = join(daemon?.dir ?? dir, 'vk-cliobj-pool');
      const xml = file(
        'dirpool.xml',
        `<pool type='dir'><name>vk-cliobj-pool</name><target><path>${target}</path></target></pool>\n`,
      );
      const line =
        `pool-define ${xml}; pool-build vk-cliobj-pool; pool-start vk-cliobj-pool; ` +
        'vol-create-as vk-cliobj-pool v1 1M; vol-list vk-cliobj-pool; ' +
        'vol-resize v1 2M --pool vk-cliobj-pool; vol-info v1 --pool vk-cliobj-pool --bytes; ' +
        'vol-resize v1 1M --pool vk-cliobj-pool; vol-resize v1 1M --pool vk-cliobj-pool --delta; ' +
        'vol-wipe v1 --pool vk-cliobj-pool; vol-delete v1 --pool vk-cliobj-pool; ' +
        'pool-destroy vk-cliobj-pool; pool-undefine vk-cliobj-pool';
      const r = spawnVirsh(['-c', uri, line], {
        env: { ...process.env, LC_ALL: 'C' },
      });
      const theirs = { code: r.status ?? -1, out: r.stdout, err: r.stderr };
      const ours = await runCli(['-c', uri, line]);
      expect(ours).toEqual(theirs);
    });

    for (const line of [
      `secret-define ${SECRET}; secret-list; secret-dumpxml ${uuid}; secret-set-value ${uuid} --base64 aGk=; ` +
        `secret-get-value ${uuid}; secret-set-value ${uuid} --file ${B64}; secret-get-value ${uuid}; ` +
        `secret-set-value ${uuid} --file ${PLAIN} --plain; secret-get-value ${uuid}; secret-undefine ${uuid}; secret-list`,
      `secret-get-value ${uuid}`,
      `secret-define ${NET}`,
      // not '--base64 !!!': glib decodes it to nothing and libvirt refuses that; virtkit says why
      `secret-define ${SECRET}; secret-set-value ${uuid}; ` +
        `secret-set-value ${uuid} --plain --base64 aGk=; secret-undefine ${uuid}`,
    ]) {
      it(`virsh '${line.replaceAll(dir, 'DIR')}'`, async () => {
        const uri = `secret+unix:///session?socket=${daemon?.socket}`;
        const r = spawnVirsh(['-c', uri, line], {
          env: { ...process.env, LC_ALL: 'C' },
        });
        const theirs = { code: r.status ?? -1, out: r.stdout, err: r.stderr };
        const ours = await runCli(['-c', uri, line]);
        expect(ours).toEqual(theirs);
      });
    }
  },
);
