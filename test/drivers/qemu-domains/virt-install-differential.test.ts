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
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { missingOnHost } from './host-needs.js';
import { normalise } from './native-argv.js';
import {
  PEER_NOTE,
  PEER_READY,
  VIRT_INSTALL_FIXTURES,
  virtInstallGuests,
  virtInstallPeer,
} from './virt-install-peer.js';

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

const GUESTS = virtInstallGuests();

describe.skipIf(!PEER_READY)(
  `virt-install guests: our argv against libvirt 9.0's domxml-to-native${PEER_NOTE}`,
  () => {
    const peer = virtInstallPeer({ prefix: 'vk-x2n-' });

    for (const name of GUESTS) {
      const why = DIFFERENT[name];
      // where the host lacks what the guest needs, libvirt and we both refuse it: the
      // refusals are compared, and a known difference of command lines cannot show
      const missing = missingOnHost(readFileSync(join(VIRT_INSTALL_FIXTURES, `${name}.xml`), 'utf8'), {
        helpers: false,
      });
      (why && !missing ? it.fails : it)(
        `${name}: the same command line${why ? (missing ? ` (both refuse here: ${missing})` : ` (expected to differ: ${why})`) : ''}`,
        async () => {
          const xml = readFileSync(join(VIRT_INSTALL_FIXTURES, `${name}.xml`), 'utf8').replace(
            /<interface[\s\S]*?<\/interface>\s*/g,
            '',
          );
          const file = join(peer.work, `${name}.xml`);
          writeFileSync(file, xml);
          chmodSync(file, 0o644);
          const theirs = spawnSync(
            'virsh',
            [
              '-c',
              `qemu+unix:///session?socket=${peer.daemon.socket}`,
              'domxml-to-native',
              'qemu-argv',
              file,
            ],
            { encoding: 'utf8' },
          );
          const ours = await peer.conn.domainXMLToNative('qemu-argv', xml).then(
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
          expect(normalise(ours, [peer.work], watchdog)).toEqual(
            normalise(theirs.stdout, [peer.daemon.dir], watchdog),
          );
        },
      );
    }
  },
);
