/**
 * qemu:///session `dir` pool volumes (qemu-img, in process) beside libvirt's
 * storage driver on a private libvirtd (storage:///session, through
 * python3-libvirt) in the same run: create + delete of a 1 GiB qcow2
 * volume, and listing a pool of 1,000 volumes. Both sides make their files
 * on the same file system. Run alone with `npm run bench -- --only storage`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/connection.js';
import { LIBVIRTD, startLibvirtd } from '../test/drivers/remote/libvirtd.js';
import { type BenchRow, hasPythonLibvirt, measure, pythonMedianUs, row } from './harness.js';

const QCOW2_1G =
  "<volume><name>big.qcow2</name><capacity unit='G'>1</capacity><target><format type='qcow2'/></target></volume>";
const VOLUMES = 1000;
const small = (i: number) => `<volume><name>v${i}</name><capacity>0</capacity></volume>`;

export async function run(): Promise<BenchRow[]> {
  if (!existsSync('/usr/bin/qemu-img'))
    return [{ name: 'storage', virtkitUs: 0, note: 'qemu-img not installed' }];
  const base = mkdtempSync(join(tmpdir(), 'vk-bench-storage-'));
  // the daemon may run as nobody: its pool directories are made under this one
  execFileSync('chmod', ['0777', base]);
  const daemon = LIBVIRTD && hasPythonLibvirt() ? await startLibvirtd() : undefined;
  const uri = daemon ? `storage+unix:///session?socket=${daemon.socket}` : undefined;
  const conn = await connect('qemu:///session', {
    driverOptions: {
      cacheDir: null,
      configDir: join(base, 'config'),
      stateDir: join(base, 'state'),
      runDir: join(base, 'run'),
      logDir: join(base, 'log'),
      storagePoolRoots: [base],
    },
  });
  const rows: BenchRow[] = [];
  try {
    const pool = async (name: string) => {
      const dir = join(base, `ours-${name}`);
      mkdirSync(dir);
      return conn.storagePools.create(
        `<pool type='dir'><name>${name}</name><target><path>${dir}</path></target></pool>`,
      );
    };
    const pySetup = (name: string, extra = '') => `
conn = libvirt.open(${JSON.stringify(uri)})
p = conn.storagePoolCreateXML("<pool type='dir'><name>${name}</name><target><path>${join(base, `theirs-${name}`)}</path></target></pool>", libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD)
${extra}`;

    const big = await pool('big');
    const ours = await measure(
      async () => {
        await (await big.createVolume(QCOW2_1G)).delete();
      },
      { warmup: 3, iterations: 30, minTimeMs: 0 },
    );
    const theirs = uri
      ? pythonMedianUs(pySetup('big'), `p.createXML(${JSON.stringify(QCOW2_1G)}, 0).delete(0)`, 30)
      : undefined;
    rows.push(
      row('create + delete a 1 GiB qcow2 volume', ours, { name: 'libvirt (libvirtd storage)', us: theirs }),
    );

    const many = await pool('many');
    for (let i = 0; i < VOLUMES; i++) await many.createVolume(small(i));
    const list = await measure(() => many.listVolumes(), { warmup: 20, iterations: 200 });
    const pyList = uri
      ? pythonMedianUs(
          pySetup(
            'many',
            `for i in range(${VOLUMES}): p.createXML("<volume><name>v%d</name><capacity>0</capacity></volume>" % i, 0)`,
          ),
          'p.listAllVolumes(0)',
          200,
        )
      : undefined;
    const r = row(`list ${VOLUMES} volumes`, list, { name: 'libvirt (libvirtd storage)', us: pyList });
    r.note = 'virtkit answers in process; libvirt through its daemon (RPC)';
    rows.push(r);
    if (!uri) for (const x of rows) x.note = 'libvirtd or python3-libvirt not installed: no peer';
  } finally {
    await conn.close();
    await daemon?.stop();
    rmSync(base, { recursive: true, force: true });
  }
  return rows;
}
