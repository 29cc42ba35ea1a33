import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Capabilities } from '../../../src/conf/capabilities.js';
import { connect } from '../../../src/connection.js';
import { xmlDiff } from '../../../src/xml/equal.js';
import { fixture } from '../../shared-data.js';
import { tempDir } from './helpers.js';

// libvirt 9.0's capabilities on this kind of host (QEMU 7.2, see fixtures/capabilities/README.md).
const FIXTURE = fixture('capabilities/qemu-session-x86_64.xml');
const EMULATORS = ['/usr/bin/qemu-system-i386', '/usr/bin/qemu-system-x86_64'];

function sameQemu(): boolean {
  if (!EMULATORS.every((e) => existsSync(e))) return false;
  try {
    return /version 7\.2\.\d+ \(Debian 1:7\.2\+dfsg-7\+deb12u18/.test(
      execFileSync(EMULATORS[1] as string, ['--version'], { encoding: 'utf8' }),
    );
  } catch {
    return false;
  }
}
const SAME = sameQemu();

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => dir.remove());

describe.skipIf(!SAME)(
  `guests match libvirt's capabilities for the same QEMU build${SAME ? '' : ' (skipped: needs Debian 12 QEMU 7.2 deb12u18)'}`,
  () => {
    it('one <guest> per emulator, machines in libvirt order with canonical names, maxCpus and deprecation', async () => {
      const conn = await connect('qemu:///session', {
        driverOptions: {
          cacheDir: join(dir.path, 'cache'),
          runDir: join(dir.path, 'run'),
          emulators: EMULATORS,
          // the fixture comes from an unprivileged daemon, which had no KVM
          kvm: false,
        },
      });
      try {
        const ours = await conn.getCapabilities();
        const theirs = Capabilities.fromXML(readFileSync(FIXTURE, 'utf8'));
        expect(ours.guests?.length).toBe(theirs.guests?.length);
        for (const [i, g] of (theirs.guests ?? []).entries()) {
          const mine = ours.guests?.[i];
          expect(mine, g.arch.name).toBeDefined();
          // libvirt 9.0 predates <externalSnapshot/>, which 11.3 (our reference) lists for every guest.
          const mine9 = { ...(mine as NonNullable<typeof mine>) };
          if (mine9.features) mine9.features = mine9.features.filter((f) => f.name !== 'externalSnapshot');
          const diff = xmlDiff(
            new Capabilities({ host: { cpu: {} }, guests: [mine9] }).toElement(),
            new Capabilities({ host: { cpu: {} }, guests: [g] }).toElement(),
          );
          expect(diff, g.arch.name).toBeUndefined();
        }
      } finally {
        await conn.close();
      }
    });
  },
);
