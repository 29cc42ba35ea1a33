/**
 * The set-up the differentials of the virt-install guests against libvirt
 * 9.0's QEMU driver share (live-xml-libvirt, virt-install-differential): the
 * corpus files the guests name, a private libvirtd, and a virtkit QEMU
 * session connection whose state lies in a temporary directory of the
 * file's own. One copy, so that both compare against a daemon and a
 * connection set up the same way.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { CORPUS_DIR, makeCorpusFiles } from '../../../scripts/gen-virt-install-corpus.js';
import { type Connection, connect } from '../../../src/connection.js';
import { HAS_QEMU, QEMU_BINARY } from '../qemu-lifecycle/helpers.js';
import { type Daemon, LIBVIRTD, startLibvirtd } from '../remote/libvirtd.js';
import { missingOnHost } from './host-needs.js';

/** The virt-install guests' XML, one `NAME.xml` a guest. */
export const VIRT_INSTALL_FIXTURES = join(import.meta.dirname, '../../../fixtures/virt-install');

const VIRSH = spawnSync('virsh', ['--version'], { encoding: 'utf8' }).status === 0;

/** Both sides run the same emulator only when the host's QEMU is the one libvirt's QEMU driver finds. */
export const PEER_READY =
  HAS_QEMU && LIBVIRTD !== undefined && VIRSH && QEMU_BINARY === '/usr/bin/qemu-system-x86_64';

/** '' when the differential can run, else ' (skipped: why)' for the describe's title. */
export const PEER_NOTE = PEER_READY
  ? ''
  : ' (skipped: needs libvirtd, virsh and /usr/bin/qemu-system-x86_64)';

/** The names of the corpus's guests, sorted, so that the tests come in the same order on every host. */
export function virtInstallGuests(): string[] {
  return readdirSync(VIRT_INSTALL_FIXTURES)
    .filter((f) => f.endsWith('.xml'))
    .map((f) => f.replace(/\.xml$/, ''))
    .sort();
}

/**
 * The corpus guests that cannot start on either side here for a reason of the
 * host, not of a driver, and why (the differentials that start guests skip them).
 */
export const NOT_STARTABLE_HERE: Readonly<Record<string, string>> = {
  'bridge-network': 'needs a host bridge and a bridge helper ACL',
  'cdrom-installer': 'an install boot: the same domain name as cdrom-installer-installed',
  'direct-kernel-boot': 'its kernel is an empty placeholder file',
  virtiofs: 'libvirt 9.0 refuses virtiofs in session mode',
};

/** The corpus guests the differentials start: all but {@link NOT_STARTABLE_HERE}. */
export function startableGuests(): string[] {
  return virtInstallGuests().filter((g) => !(g in NOT_STARTABLE_HERE));
}

export interface VirtInstallPeer {
  readonly daemon: Daemon;
  /** Runs virsh on the daemon's QEMU driver, expects it to succeed, and gives its output. */
  virsh(...args: string[]): string;
  /**
   * The corpus guest `name` on this peer's images, written to a file of the
   * work dir that libvirt's QEMU can read, with its domain name; or what the
   * host lacks to start it (`missingOnHost`).
   */
  guest(name: string): { xml: string; file: string; domName: string } | { missing: string };
  readonly conn: Connection;
  /** The file's temporary directory: the connection's state, and room for the test's own files. */
  readonly work: string;
  /** Where the corpus files are: {@link CORPUS_DIR}, or with `ownImages` a copy under `work`. */
  readonly images: string;
}

/**
 * Sets up the daemon and the connection before the describe's tests (call
 * it in the describe's body) and takes them down after, with any guest the
 * connection left running. `ownImages`: the corpus files under `work`
 * rather than {@link CORPUS_DIR}, for a test that starts the guests (other
 * tests start the fixtures' own images at the same time), writable by
 * libvirt's QEMU, which runs as the daemon's user, nobody.
 */
export function virtInstallPeer(opts: { prefix: string; ownImages?: boolean }): VirtInstallPeer {
  let daemon: Daemon | undefined;
  let conn: Connection | undefined;
  let work: string | undefined;
  let images: string = CORPUS_DIR;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), opts.prefix));
    chmodSync(work, 0o755);
    if (opts.ownImages) {
      images = join(work, 'images');
      makeCorpusFiles(images);
      spawnSync('chmod', ['-R', 'a+rwX', images]);
    } else makeCorpusFiles();
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
    for (const d of (await conn?.listDomains({ active: true })) ?? []) await d.destroy().catch(() => {});
    await conn?.close();
    await daemon?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined)
      throw new Error('the private libvirtd did not start (the test should have been skipped)');
    return v;
  };
  return {
    get daemon() {
      return started(daemon);
    },
    guest(name: string) {
      const xml = readFileSync(join(VIRT_INSTALL_FIXTURES, `${name}.xml`), 'utf8').replaceAll(
        CORPUS_DIR,
        images,
      );
      const missing = missingOnHost(xml, { helpers: true });
      if (missing) return { missing };
      const file = join(started(work), `${name}.xml`);
      writeFileSync(file, xml);
      chmodSync(file, 0o644);
      return { xml, file, domName: /<name>([^<]+)<\/name>/.exec(xml)?.[1] ?? '' };
    },
    virsh(...args: string[]) {
      const uri = `qemu+unix:///session?socket=${started(daemon).socket}`;
      const r = spawnSync('virsh', ['-c', uri, ...args], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    },
    get conn() {
      return started(conn);
    },
    get work() {
      return started(work);
    },
    get images() {
      return images;
    },
  };
}
