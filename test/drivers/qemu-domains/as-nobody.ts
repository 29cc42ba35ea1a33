/**
 * Running the driver as an unprivileged user from a test that runs as root:
 * session-guest-child.ts in a child Node process under `setpriv` as
 * `nobody` (with the kvm group when /dev/kvm is group-accessible), on a
 * temporary root that user owns. A host where that cannot be done says why
 * in {@link AS_NOBODY_NOTE}.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QEMU_BINARY } from '../qemu-lifecycle/helpers.js';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

export const NOBODY = (() => {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('nobody:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  return uid && gid ? { uid: Number(uid), gid: Number(gid) } : undefined;
})();

/** The group of /dev/kvm when it lets its group read and write, so a user in it can use KVM. */
export const KVM_GROUP = (() => {
  try {
    const st = statSync('/dev/kvm');
    return (st.mode & 0o060) === 0o060 ? st.gid : undefined;
  } catch {
    return undefined;
  }
})();

/** '' when the tests can act as nobody, else ' (skipped: why)'. */
export const AS_NOBODY_NOTE =
  process.getuid?.() !== 0
    ? ' (skipped: becoming nobody needs root)'
    : !SETPRIV
      ? ' (skipped: setpriv is not installed)'
      : !NOBODY
        ? ' (skipped: no nobody user)'
        : '';

export interface ChildResult {
  ok: boolean;
  uid?: number;
  state?: { state: string; reason: string };
  after?: { state: string; reason: string };
  processes?: string[][];
  liveXml?: string;
  transcript?: string;
  /** While the guest ran: each host bridge's enslaved interfaces. */
  bridgePorts?: Record<string, string[]>;
  error?: { code: string; field?: string; message: string };
}

/** Runs session-guest-child.ts as nobody on `root` over `xmls`; one report per guest. */
export function startAsNobody(
  root: string,
  xmls: string[],
  opts: {
    driverOptions?: Record<string, unknown>;
    groups?: readonly number[];
    timeoutMs?: number;
    boot?: { until: string; ms: number };
    /** Transient networks the child creates first (their reports come first). */
    networks?: string[];
    /** Devices the child attaches live to each running guest. */
    attach?: string[];
  } = {},
): Promise<ChildResult[]> {
  const driverOptions = opts.driverOptions ?? {};
  const script = join(import.meta.dirname, 'session-guest-child.ts');
  const input = JSON.stringify({
    root,
    xmls,
    emulator: QEMU_BINARY,
    driverOptions,
    boot: opts.boot,
    networks: opts.networks,
    attach: opts.attach,
  });
  // by default the kvm group, as a user who may run KVM guests has it
  const wanted = opts.groups ?? (KVM_GROUP !== undefined ? [KVM_GROUP] : []);
  const groups = wanted.length > 0 ? [`--groups=${wanted.join(',')}`] : ['--clear-groups'];
  return new Promise((resolve, reject) => {
    execFile(
      SETPRIV as string,
      [
        `--reuid=${NOBODY?.uid}`,
        `--regid=${NOBODY?.gid}`,
        ...groups,
        '--',
        'env',
        `HOME=${root}`,
        'PATH=/usr/bin:/bin',
        process.execPath,
        '--import',
        'tsx',
        script,
        input,
      ],
      { timeout: opts.timeoutMs ?? 90_000, cwd: join(import.meta.dirname, '../../..'), maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const line = String(stdout).trim().split('\n').at(-1) ?? '';
        try {
          resolve(JSON.parse(line) as ChildResult[]);
        } catch {
          reject(new Error(`child failed: ${err?.message ?? ''} ${String(stderr).slice(-2000)}`));
        }
      },
    );
  });
}

/** A temporary directory the nobody user owns. */
export function nobodyDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chownNobody(dir);
  return dir;
}

export function chownNobody(path: string): void {
  chownSync(path, NOBODY?.uid ?? 65534, NOBODY?.gid ?? 65534);
}

/** Pids of live (not zombie) processes whose command line mentions `marker`. */
export function processesMentioning(marker: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return false;
        return readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}
