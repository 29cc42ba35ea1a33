/**
 * The guests users actually feed the QEMU driver: fixtures/virt-install/,
 * as Debian's virt-install writes them. Each is defined, started (paused:
 * QEMU parses its whole command line and opens every file and helper
 * before the first instruction) and destroyed under qemu:///session with
 * real QEMU, and nothing is left running. A guest the host cannot run
 * (no bridge to join, no kernel to boot, no UEFI firmware or swtpm) is
 * skipped visibly, with why.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CORPUS_DIR, makeCorpusFiles } from '../../../scripts/gen-virt-install-corpus.js';
import { connect } from '../../../src/connection.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  QEMU_NOTE,
  qemuProcessesMentioning,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';
import { missingOnHost } from './host-needs.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures/virt-install');
const GUESTS = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.xml'))
  .map((f) => f.replace(/\.xml$/, ''))
  .sort();

/** A kernel and initrd of this host to boot the direct-kernel guest with, if there are any. */
function hostKernel(): { kernel: string; initrd: string } | undefined {
  const boot = existsSync('/boot') ? readdirSync('/boot') : [];
  const k = boot.find((f) => f.startsWith('vmlinuz-'));
  const i = k && boot.find((f) => f === `initrd.img-${k.slice('vmlinuz-'.length)}`);
  return k && i ? { kernel: join('/boot', k), initrd: join('/boot', i) } : undefined;
}

/** Why a guest cannot start on this host, or undefined when it can. */
function cannotRun(name: string, xml: string): string | undefined {
  const missing = missingOnHost(xml);
  if (missing) return missing;
  const bridge = /<source bridge="([^"]+)"/.exec(xml)?.[1];
  if (bridge && !existsSync(`/sys/class/net/${bridge}/bridge`)) return `no host bridge ${bridge}`;
  if (name === 'direct-kernel-boot' && !hostKernel()) return 'no kernel and initrd in /boot';
  // unprivileged virtiofsd needs an ID map the driver does not set up yet (it refuses the start)
  if (/<driver type="virtiofs"/.test(xml) && process.getuid?.() !== 0) return 'virtiofsd needs root';
  return undefined;
}

/** Guests that do not start yet, and why: each runs as an expected failure, so a fix shows. */
const NOT_YET: Record<string, string> = {};

const roots = tempRoots('vk-virt-install-');
afterAll(() => {
  expect(qemuProcessesMentioning(roots.path)).toEqual([]);
  roots.remove();
});

describe.skipIf(!HAS_QEMU)(`virt-install guests start under qemu:///session${QEMU_NOTE}`, () => {
  makeCorpusFiles();
  const k = hostKernel();
  if (k) {
    copyFileSync(k.kernel, join(CORPUS_DIR, 'vmlinuz'));
    copyFileSync(k.initrd, join(CORPUS_DIR, 'initrd.img'));
  }
  for (const name of GUESTS) {
    const xml = readFileSync(join(FIXTURES, `${name}.xml`), 'utf8');
    const why = cannotRun(name, xml);
    const notYet = NOT_YET[name];
    const test = why === undefined && notYet !== undefined ? it.fails : it.skipIf(why !== undefined);
    const note = why ? ` (skipped: ${why})` : notYet ? ` (expected to fail: ${notYet})` : '';
    test(`${name}: defines, starts paused, destroys${note}`, async () => {
      const conn = await connect('qemu:///session', {
        driverOptions: {
          cacheDir: null,
          runDir: join(roots.path, 'run'),
          stateDir: join(roots.path, 'state'),
          configDir: join(roots.path, 'config'),
          logDir: join(roots.path, 'log'),
          emulators: [QEMU_BINARY],
        },
      });
      try {
        // virt-install names the emulator libvirt found; the tests' QEMU may live elsewhere
        const dom = await conn.defineDomain(
          xml.replace(/<emulator>[^<]*<\/emulator>/, `<emulator>${QEMU_BINARY}</emulator>`),
        );
        await dom.start({ paused: true });
        expect((await dom.getState()).state).toBe('paused');
        await dom.destroy();
        expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'destroyed' });
        await dom.undefine();
      } finally {
        await conn.close();
      }
    });
  }
});
