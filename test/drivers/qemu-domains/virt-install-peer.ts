/**
 * The set-up the differentials of the virt-install guests against libvirt
 * 9.0's QEMU driver share (live-xml-libvirt, virt-install-differential): the
 * corpus files the guests name, a private libvirtd, and a virtkit QEMU
 * session connection whose state lies in a temporary directory of the
 * file's own. One copy, so that both compare against a daemon and a
 * connection set up the same way.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { CORPUS_DIR, makeCorpusFiles } from '../../../scripts/gen-virt-install-corpus.js';
import { type Connection, connect } from '../../../src/connection.js';
import { HAS_QEMU, QEMU_BINARY } from '../qemu-lifecycle/helpers.js';
import { type Daemon, LIBVIRTD, startLibvirtd } from '../remote/libvirtd.js';

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

export interface VirtInstallPeer {
  readonly daemon: Daemon;
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
