/**
 * Differential: for each guest of fixtures/virt-install/, the command line
 * virtkit would run (`conn.domainXMLToNative('qemu-argv')`) against what
 * libvirt 9.0 makes of the same XML (`virsh domxml-to-native qemu-argv` on
 * a private libvirtd, same host QEMU), word for word modulo:
 * - paths: each side's own state directories become `<dir>`;
 * - the environment before the binary (HOME, XDG_* and PATH are per daemon);
 * - what libvirt 11.3, whose rules virtkit follows, writes differently
 *   from 9.0: `-m size=Nk` for `-m N/1024`, `hpet=off`/`acpi=on` on
 *   `-machine` for `-no-hpet`, the master-key secret object 9.0 adds
 *   even when no secret uses it, and on q35 `-global ICH9-LPC.noreboot=off`
 *   with the implicit iTCO watchdog's `-watchdog-action reset` (11.x adds
 *   that watchdog to every q35 guest);
 * - automatically allocated display ports (`port=59NN`), which depend on
 *   what else runs on the host.
 * Two guests still differ for reasons of version, each listed in
 * DIFFERENT with why; they run as expected failures, so a change shows.
 * NICs are taken out on both sides first: libvirt 9.0's domxml-to-native
 * turns every NIC into a tap it must create, which a private unprivileged
 * daemon cannot. Skips visibly without libvirtd or virsh.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCorpusFiles } from '../../../scripts/gen-virt-install-corpus.js';
import { type Connection, connect } from '../../../src/connection.js';
import { HAS_QEMU, QEMU_BINARY } from '../qemu-lifecycle/helpers.js';
import { type Daemon, LIBVIRTD, startLibvirtd } from '../remote/libvirtd.js';
import { missingOnHost } from './host-needs.js';
import { normalise } from './native-argv.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures/virt-install');
const VIRSH = spawnSync('virsh', ['--version'], { encoding: 'utf8' }).status === 0;
const READY = HAS_QEMU && LIBVIRTD !== undefined && VIRSH && QEMU_BINARY === '/usr/bin/qemu-system-x86_64';
const NOTE = READY ? '' : ' (skipped: needs libvirtd, virsh and /usr/bin/qemu-system-x86_64)';

/** Guests whose command lines differ from libvirt 9.0's for a reason of version, and the reason. */
const DIFFERENT: Record<string, string> = {
  'uefi-tpm-agent':
    "11.3 opens a raw NVRAM without a format node (9.0 had one); 9.0's domxml-to-native writes a null chardev for the TPM, we the swtpm socket a start uses",
  'cdrom-installer': '11.3 gives a read-only raw CD-ROM no format node (9.0 had one)',
};

/** Guests libvirt 9.0 refuses here that virtkit runs, and why. */
const BEYOND_LIBVIRT: Record<string, string> = {
  virtiofs: 'libvirt 9.0 refuses virtiofs in session mode; virtkit runs virtiofsd as the user',
};

const GUESTS = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.xml'))
  .map((f) => f.replace(/\.xml$/, ''))
  .sort();

describe.skipIf(!READY)(`virt-install guests: our argv against libvirt 9.0's domxml-to-native${NOTE}`, () => {
  let daemon: Daemon;
  let conn: Connection;
  const work = mkdtempSync(join(tmpdir(), 'vk-x2n-'));
  chmodSync(work, 0o755);
  beforeAll(async () => {
    makeCorpusFiles();
    daemon = await startLibvirtd();
    conn = await connect('qemu:///session', {
      driverOptions: {
        cacheDir: null,
        runDir: join(work, 'run'),
        stateDir: join(work, 'state'),
        configDir: join(work, 'config'),
        logDir: join(work, 'log'),
        emulators: [QEMU_BINARY],
      },
    });
  });
  afterAll(async () => {
    await conn?.close();
    await daemon?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  for (const name of GUESTS) {
    const why = DIFFERENT[name];
    // where the host lacks what the guest needs, libvirt and we both refuse it: the
    // refusals are compared, and a known difference of command lines cannot show
    const missing = missingOnHost(readFileSync(join(FIXTURES, `${name}.xml`), 'utf8'), { helpers: false });
    (why && !missing ? it.fails : it)(
      `${name}: the same command line${why ? (missing ? ` (both refuse here: ${missing})` : ` (expected to differ: ${why})`) : ''}`,
      async () => {
        const xml = readFileSync(join(FIXTURES, `${name}.xml`), 'utf8').replace(
          /<interface[\s\S]*?<\/interface>\s*/g,
          '',
        );
        const file = join(work, `${name}.xml`);
        writeFileSync(file, xml);
        chmodSync(file, 0o644);
        const theirs = spawnSync(
          'virsh',
          ['-c', `qemu+unix:///session?socket=${daemon.socket}`, 'domxml-to-native', 'qemu-argv', file],
          { encoding: 'utf8' },
        );
        const ours = await conn.domainXMLToNative('qemu-argv', xml).then(
          (s) => s,
          (e: unknown) => `error: ${String(e)}`,
        );
        if (theirs.status !== 0) {
          // libvirt cannot convert it here: then we must refuse too, or know why we do better
          if (BEYOND_LIBVIRT[name]) expect(ours).not.toMatch(/^error: /);
          else expect(ours, `libvirt refused: ${theirs.stderr.trim()}`).toMatch(/^error: /);
          return;
        }
        expect(ours).not.toMatch(/^error: /);
        const watchdog = xml.includes('<watchdog');
        expect(normalise(ours, [work], watchdog)).toEqual(normalise(theirs.stdout, [daemon.dir], watchdog));
      },
    );
  }
});
