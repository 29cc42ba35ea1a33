/**
 * The guests users actually feed the QEMU driver: fixtures/virt-install/,
 * as Debian's virt-install writes them. Each is defined, started (paused:
 * QEMU parses its whole command line and opens every file and helper
 * before the first instruction) and destroyed with real QEMU, and nothing
 * is left running, twice where the host allows:
 *
 * - under `qemu:///system` as root (in this process; only when the tests
 *   run as root);
 * - under `qemu:///session` as an unprivileged user: this user when it is
 *   not root, else `nobody` in a child process (as-nobody.ts), with its own
 *   copy of the guests' files (the fixtures' paths moved there, as a user's
 *   files would be in their home).
 *
 * A guest a run cannot start on this host (no bridge to join, no kernel to
 * boot, no UEFI firmware or swtpm, a KVM guest without /dev/kvm access) is skipped visibly, with why.
 */
import { accessSync, constants, copyFileSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORPUS_DIR, makeCorpusFiles } from '../../../scripts/gen-virt-install-corpus.js';
import { connect } from '../../../src/connection.js';
import { C_VIRTIOFSD_PID_DIR } from '../../../src/drivers/qemu/lifecycle/virtiofsd-session.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  QEMU_NOTE,
  qemuProcessesMentioning,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';
import { AS_NOBODY_NOTE, type ChildResult, chownNobody, nobodyDir, startAsNobody } from './as-nobody.js';
import { missingOnHost } from './host-needs.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures/virt-install');
const GUESTS = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.xml'))
  .map((f) => f.replace(/\.xml$/, ''))
  .sort();
const IS_ROOT = process.getuid?.() === 0;

/** A kernel and initrd of this host to boot the direct-kernel guest with, if there are any. */
function hostKernel(): { kernel: string; initrd: string } | undefined {
  const boot = existsSync('/boot') ? readdirSync('/boot') : [];
  const k = boot.find((f) => f.startsWith('vmlinuz-'));
  const i = k && boot.find((f) => f === `initrd.img-${k.slice('vmlinuz-'.length)}`);
  return k && i ? { kernel: join('/boot', k), initrd: join('/boot', i) } : undefined;
}

function canUseKvm(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

type Run = 'system' | 'session';

/** Why a guest cannot start on this host in `run`, or undefined when it can. */
function cannotRun(name: string, xml: string, run: Run): string | undefined {
  const missing = missingOnHost(xml);
  if (missing) return missing;
  const bridge = /<source bridge="([^"]+)"/.exec(xml)?.[1];
  if (bridge && !existsSync(`/sys/class/net/${bridge}/bridge`)) return `no host bridge ${bridge}`;
  if (bridge && run === 'session')
    return 'joining a bridge as a user is refused (bridge-helper.ts: the tap descriptor cannot be taken yet)';
  if (name === 'direct-kernel-boot' && !hostKernel()) return 'no kernel and initrd in /boot';
  // the session user here is nobody (no /dev/kvm) or this user, whose access is checked
  if (/<domain type="kvm"/.test(xml) && (run === 'session' ? IS_ROOT || !canUseKvm() : !canUseKvm()))
    return 'a KVM guest and the user cannot open /dev/kvm';
  if (/<driver type="virtiofs"/.test(xml) && run === 'session' && !existsSync(C_VIRTIOFSD_PID_DIR))
    return `the C virtiofsd run by a user needs ${C_VIRTIOFSD_PID_DIR} to exist`;
  return undefined;
}

/** Guests that do not start yet, and why: each runs as an expected failure, so a fix shows. */
const NOT_YET: Record<string, string> = {};

function fixture(name: string): string {
  const xml = readFileSync(join(FIXTURES, `${name}.xml`), 'utf8');
  // virt-install names the emulator libvirt found; the tests' QEMU may live elsewhere
  return xml.replace(/<emulator>[^<]*<\/emulator>/, `<emulator>${QEMU_BINARY}</emulator>`);
}

function copyHostKernel(dir: string): string[] {
  const k = hostKernel();
  if (!k) return [];
  copyFileSync(k.kernel, join(dir, 'vmlinuz'));
  copyFileSync(k.initrd, join(dir, 'initrd.img'));
  return [join(dir, 'vmlinuz'), join(dir, 'initrd.img')];
}

function testFor(name: string, why: string | undefined) {
  const notYet = NOT_YET[name];
  const test = why === undefined && notYet !== undefined ? it.fails : it.skipIf(why !== undefined);
  const note = why ? ` (skipped: ${why})` : notYet ? ` (expected to fail: ${notYet})` : '';
  return { test, note };
}

const roots = tempRoots('vk-virt-install-');
afterAll(() => {
  expect(qemuProcessesMentioning(roots.path)).toEqual([]);
  roots.remove();
});

/** Defines, starts paused, destroys and undefines `xml` in this process, on `uri`. */
async function startHere(uri: string, root: string, xml: string): Promise<void> {
  const conn = await connect(uri, {
    driverOptions: {
      cacheDir: null,
      runDir: join(root, 'run'),
      stateDir: join(root, 'state'),
      configDir: join(root, 'config'),
      logDir: join(root, 'log'),
      emulators: [QEMU_BINARY],
    },
  });
  try {
    const dom = await conn.defineDomain(xml);
    await dom.start({ paused: true });
    expect((await dom.getState()).state).toBe('paused');
    await dom.destroy();
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'destroyed' });
    await dom.undefine();
  } finally {
    await conn.close();
  }
}

const SYSTEM_NOTE = IS_ROOT ? '' : ' (skipped: qemu:///system needs root)';
describe.skipIf(!HAS_QEMU || !IS_ROOT)(
  `virt-install guests start under qemu:///system as root${QEMU_NOTE}${SYSTEM_NOTE}`,
  () => {
    if (IS_ROOT) {
      makeCorpusFiles();
      copyHostKernel(CORPUS_DIR);
    }
    for (const name of GUESTS) {
      const xml = fixture(name);
      const { test, note } = testFor(name, cannotRun(name, xml, 'system'));
      test(`${name}: defines, starts paused, destroys${note}`, () =>
        startHere('qemu:///system', join(roots.path, 'system'), xml));
    }
  },
);

// as root, the session user is nobody, in a child process; otherwise it is this user, here
const SESSION_NOTE = IS_ROOT ? AS_NOBODY_NOTE : '';
const SESSION_USER = IS_ROOT ? 'nobody' : `uid ${process.getuid?.()}`;
describe.skipIf(!HAS_QEMU || SESSION_NOTE !== '')(
  `virt-install guests start under qemu:///session as an unprivileged user (${SESSION_USER})${QEMU_NOTE}${SESSION_NOTE}`,
  () => {
    const runnable = GUESTS.filter((n) => cannotRun(n, fixture(n), 'session') === undefined);
    let reports = new Map<string, ChildResult>();
    let userDir: string | undefined;
    beforeAll(async () => {
      if (!IS_ROOT) {
        makeCorpusFiles();
        copyHostKernel(CORPUS_DIR);
        return;
      }
      // nobody's own copy of the files the guests name, and its own roots
      userDir = nobodyDir('vk-corpus-user-');
      for (const f of [...makeCorpusFiles(userDir), ...copyHostKernel(userDir)]) chownNobody(f);
      const xmls = runnable.map((n) => fixture(n).replaceAll(CORPUS_DIR, userDir as string));
      // no supplementary groups: the TCG guests need no kvm group, and the C virtiofsd refuses them
      const out = await startAsNobody(userDir, xmls, { groups: [], timeoutMs: 240_000 });
      reports = new Map(runnable.map((n, i) => [n, out[i] as ChildResult]));
    }, 300_000);
    afterAll(() => {
      if (userDir) {
        expect(qemuProcessesMentioning(userDir)).toEqual([]);
        rmSync(userDir, { recursive: true, force: true });
      }
    });
    for (const name of GUESTS) {
      const xml = fixture(name);
      const { test, note } = testFor(name, cannotRun(name, xml, 'session'));
      test(`${name}: defines, starts paused, destroys${note}`, async () => {
        if (!IS_ROOT) return startHere('qemu:///session', join(roots.path, 'session'), xml);
        const r = reports.get(name);
        expect(r?.error, JSON.stringify(r?.error)).toBeUndefined();
        expect(r?.uid).not.toBe(0);
        expect(r?.state?.state).toBe('paused');
        expect(r?.after).toEqual({ state: 'shutoff', reason: 'destroyed' });
      });
    }
  },
);
