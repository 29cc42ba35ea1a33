/**
 * Family `hostcaps` (libvirt's vircaps2xmltest): host capabilities built
 * from a real host's sysfs trees, compared byte for byte with libvirt's
 * expected document, and validated against schemas/capability.rng.
 *
 * Inputs, and why:
 * - `<sysfs>/system` stands for `/sys/devices/system` and `<sysfs>/resctrl`
 *   for `/sys/fs/resctrl` (absent: no resource control), as in libvirt's test.
 * - Node memory, page pools and distances: libvirt's test replaces them with
 *   fixed figures (node N has N+1 GiB; pools of 4 KiB, 2 MiB and 1 GiB pages
 *   holding (N+1+i)*2048 pages; no distances), so we pass the same figures as
 *   the memory source. Everything else is read from the trees by our code.
 * - The data set stores libvirt's symbolic links as small files holding the
 *   link target (`system` -> `../linux-resctrl/system`); the runner follows
 *   them for the tree roots and their direct entries, which is where libvirt's
 *   test data has them. A target outside the data set fails the case and says so.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { Capabilities } from '../../src/conf/capabilities.js';
import type { NumaMemorySource } from '../../src/drivers/qemu/caps/host-numa-memory.js';
import { hostInfoFromSysfs } from '../../src/drivers/qemu/caps/host-sysfs.js';
import { validate } from '../../src/xml/validate.js';
import { attempt, type CaseResult } from './types.js';

interface HostCapsCase {
  name: string;
  arch: string;
  sysfs: string;
  offlineMigrate: boolean;
  liveMigrate: boolean;
  expected: string;
}

const GiB = 1n << 30n;
const TEST_PAGE_SIZES = [4, 2048, 1048576];

/** The fixed memory figures of libvirt's test harness. */
export const LIBVIRT_TEST_MEMORY: NumaMemorySource = {
  nodeMemory: async (node) => GiB * BigInt(node + 1),
  nodePages: async (node) =>
    TEST_PAGE_SIZES.map((size, i) => ({ size, count: BigInt((node + 1 + i) * 2048) })),
  nodeDistances: async () => [],
};

class DanglingLink extends Error {}

/** A stored link's target, when `path` is such a file; undefined for real files and directories. */
function storedLink(path: string): string | undefined {
  if (!statSync(path).isFile()) return undefined;
  const text = readFileSync(path, 'utf8').trim();
  return /^\.\.?\//.test(text) && !text.includes('\n') ? resolve(dirname(path), text) : undefined;
}

function follow(path: string, dataDir: string, hops = 8): string {
  const target = storedLink(path);
  if (target === undefined) return path;
  let exists = true;
  try {
    statSync(target);
  } catch {
    exists = false;
  }
  if (!exists || hops === 0) {
    throw new DanglingLink(
      `${relative(dataDir, path)} is a link to ${relative(dataDir, target)}, which the data set does not hold`,
    );
  }
  return follow(target, dataDir, hops - 1);
}

/**
 * A root with its stored links followed: the directory itself when none of
 * its entries is a link, otherwise a scratch directory of real symbolic links.
 */
function materialise(path: string, dataDir: string, scratch: () => string): string {
  const dir = follow(path, dataDir);
  const entries = readdirSync(dir);
  const linked = entries.map((e) => follow(join(dir, e), dataDir));
  if (linked.every((p, i) => p === join(dir, entries[i] as string))) return dir;
  const out = scratch();
  entries.forEach((e, i) => {
    symlinkSync(linked[i] as string, join(out, e));
  });
  return out;
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

export async function run(dataDir: string): Promise<CaseResult[]> {
  const dir = join(dataDir, 'hostcaps');
  const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as HostCapsCase[];
  const out: CaseResult[] = [];
  for (const c of cases) {
    const scratchDirs: string[] = [];
    const scratch = () => {
      const d = mkdtempSync(join(tmpdir(), 'virtkit-hostcaps-'));
      scratchDirs.push(d);
      return d;
    };
    out.push(
      await attempt(c.name, async () => {
        try {
          const base = join(dir, c.sysfs);
          const system = materialise(join(base, 'system'), dataDir, scratch);
          const resctrlPath = join(base, 'resctrl');
          const roots = exists(resctrlPath)
            ? { system, resctrl: materialise(resctrlPath, dataDir, scratch) }
            : { system };
          const host = await hostInfoFromSysfs(roots, {
            arch: c.arch,
            offlineMigrate: c.offlineMigrate,
            liveMigrate: c.liveMigrate,
            memory: LIBVIRT_TEST_MEMORY,
          });
          const xml = new Capabilities({ host }).toXML();
          const expected = readFileSync(join(dir, c.expected), 'utf8');
          if (xml !== expected) return `differs from ${c.expected}: ${firstDifference(expected, xml)}`;
          const v = await validate(xml, 'capability');
          if (!v.valid) return `schema: ${v.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`;
          return undefined;
        } catch (err) {
          if (err instanceof DanglingLink) return err.message;
          throw err;
        } finally {
          for (const d of scratchDirs) rmSync(d, { recursive: true, force: true });
        }
      }),
    );
  }
  return out;
}

function firstDifference(expected: string, actual: string): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `line ${i + 1}: expected ${JSON.stringify(a[i])}, got ${JSON.stringify(b[i])}`;
  }
  return 'same lines, different bytes';
}
