/**
 * Real guests through the whole driver (`qemu:///session`, define → start →
 * destroy), beside libvirt 9.0 (`virsh create` on a private session
 * libvirtd, test/drivers/remote/libvirtd.ts) and bare QEMU (the argv and
 * environment virtkit ran, spawned directly and `cont`inued over QMP), in
 * one run:
 *
 * - the tiny Linux guest (scripts/tiny-linux.ts: host kernel + busybox
 *   initramfs, serial console): start → running and start → first byte on
 *   its serial console;
 * - each virt-install guest of fixtures/virt-install/: start → running, and
 *   start → first console byte for the one that boots a kernel onto its
 *   serial port (the others have an empty disk and print nothing there);
 * - 20 small guests started concurrently: wall time, beside one start
 *   (the goal is under 3× one start);
 * - destroy.
 *
 * Few iterations by default (each is a process, a first console byte a
 * kernel boot under TCG; the run stays within a few minutes): 3 starts of
 * the tiny guest, 2 of each virt-install guest, 1 first byte each;
 * VIRTKIT_BENCH_GUEST_ITERATIONS=N takes N of each. A peer that is
 * missing (no libvirtd or virsh; a guest bare QEMU cannot run without its
 * helpers) is skipped visibly in the row's note.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORPUS_DIR, makeCorpusFiles } from '../scripts/gen-virt-install-corpus.js';
import { buildTinyLinux, findKernel, hasBusybox } from '../scripts/tiny-linux.js';
import { type Connection, connect } from '../src/connection.js';
import type { Domain } from '../src/domain.js';
import { type Daemon, LIBVIRTD, startLibvirtd } from '../test/drivers/remote/libvirtd.js';
import {
  type BareRun,
  bareDestroy,
  bareFirstByte,
  bareStart,
  libvirtDestroy,
  libvirtFirstByte,
  libvirtStart,
  type NativeCommand,
  nowUs,
  type Virsh,
  virsh,
  writeXml,
} from './guest-peers.js';
import { type BenchRow, hasCommand, row } from './harness.js';

const QEMU = process.env.VIRTKIT_BENCH_QEMU ?? '/usr/bin/qemu-system-x86_64';
const ITER = Number(process.env.VIRTKIT_BENCH_GUEST_ITERATIONS ?? '0') || undefined;
const TINY_ITERATIONS = ITER ?? 3;
const CORPUS_ITERATIONS = ITER ?? 2;
/** A first console byte takes a kernel boot under TCG (seconds): one sample each by default. */
const BYTE_ITERATIONS = ITER ?? 1;
const CONCURRENT = 20;
const BYTE_MS = 60_000;
const FIXTURES = join(import.meta.dirname, '../fixtures/virt-install');
const LIBVIRT = 'libvirt 9.0 (virsh)';
const BARE = 'bare QEMU';

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

interface Subject {
  readonly label: string;
  readonly name: string;
  readonly xml: string;
  readonly firstByte: boolean;
}

/** Per peer: start → running, start → first byte, destroy; or why it was skipped. */
interface Samples {
  run: number[];
  byte: number[];
  destroy: number[];
  skipped?: string;
}

const empty = (): Samples => ({ run: [], byte: [], destroy: [] });

/** QEMU's argv and environment for the guest named `name` (started by virtkit, still there). */
function nativeCommand(name: string, marker: string): NativeCommand | undefined {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').slice(0, -1);
      if (!argv.includes(`guest=${name},debug-threads=on`) || !argv.join(' ').includes(marker)) continue;
      const env: Record<string, string> = {};
      for (const kv of readFileSync(`/proc/${e}/environ`, 'utf8').split('\0').filter(Boolean)) {
        const i = kv.indexOf('=');
        env[kv.slice(0, i)] = kv.slice(i + 1);
      }
      return { argv, env };
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

async function virtkitSamples(dom: Domain, s: Subject, n: number, out: Samples): Promise<void> {
  for (let i = 0; i < n; i++) {
    let t = nowUs();
    await dom.start();
    out.run.push(nowUs() - t);
    t = nowUs();
    await dom.destroy();
    out.destroy.push(nowUs() - t);
  }
  if (s.firstByte)
    for (let i = 0; i < BYTE_ITERATIONS; i++) {
      const t0 = nowUs();
      await dom.start({ paused: true });
      const stream = await dom.openConsole();
      const byte = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no console byte')), BYTE_MS);
        stream.once('data', () => {
          clearTimeout(timer);
          resolve(nowUs());
        });
        stream.on('error', () => {});
      });
      await dom.resume();
      out.byte.push((await byte) - t0);
      stream.destroy();
      await dom.destroy();
    }
}

async function libvirtSamples(v: Virsh, dir: string, s: Subject, n: number, out: Samples): Promise<void> {
  const file = writeXml(dir, `libvirt-${s.name}`, s.xml);
  // as for virtkit, an untimed start first: the daemon probes QEMU and makes per-guest state once
  await v.run(['create', '--paused', file]);
  await libvirtDestroy(v, s.name);
  for (let i = 0; i < n; i++) {
    out.run.push(await libvirtStart(v, file));
    out.destroy.push(await libvirtDestroy(v, s.name));
  }
  if (s.firstByte)
    for (let i = 0; i < BYTE_ITERATIONS; i++) {
      out.byte.push(await libvirtFirstByte(v, file, s.name, BYTE_MS));
      await libvirtDestroy(v, s.name);
    }
}

async function bareSamples(
  cmd: NativeCommand,
  dir: string,
  s: Subject,
  n: number,
  out: Samples,
): Promise<void> {
  const log = join(dir, `bare-${s.name}.log`);
  for (let i = 0; i < n; i++) {
    const { us, run } = await bareStart(cmd, log);
    out.run.push(us);
    out.destroy.push(await bareDestroy(run));
  }
  if (s.firstByte)
    for (let i = 0; i < BYTE_ITERATIONS; i++) {
      const { us, run } = await bareFirstByte(cmd, log, BYTE_MS);
      out.byte.push(us);
      await bareDestroy(run);
    }
}

function message(err: unknown): string {
  // virsh puts the reason on its second line
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ').slice(0, 240);
}

/** The rows of one measurement: virtkit beside each peer (or the peer's skip reason). */
function rowsFor(
  what: string,
  vk: number[],
  peers: ReadonlyArray<[string, Samples, number[]]>,
  note?: string,
): BenchRow[] {
  if (vk.length === 0) return [];
  return peers.map(([name, p, samples]) => {
    const r = row(`${what} (vs ${name})`, median(vk), {
      name,
      us: samples.length > 0 ? median(samples) : undefined,
    });
    const why = p.skipped ?? (samples.length === 0 ? 'no samples' : undefined);
    const notes = [note, why ? `${name} skipped: ${why}` : undefined].filter(Boolean).join('; ');
    return notes ? { ...r, note: notes } : r;
  });
}

function tinyLinuxSubject(cacheDir: string): Subject | string {
  const kernel = findKernel();
  if (!kernel) return 'no readable /boot/vmlinuz-<version> with its modules';
  if (!hasBusybox()) return 'no /bin/busybox (busybox-static)';
  const tiny = buildTinyLinux(kernel, { cacheDir });
  const name = 'vk-bench-tiny';
  return {
    label: 'tiny Linux',
    name,
    firstByte: true,
    xml: `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${tiny.kernel.image}</kernel><initrd>${tiny.initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 rdinit=/init</cmdline></os>
  <features><acpi/></features>
  <devices><emulator>${QEMU}</emulator><serial type='pty'/><console type='pty'/><memballoon model='none'/></devices>
</domain>`,
  };
}

function corpusSubjects(dir: string): Subject[] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.xml'))
    .sort()
    .map((f) => {
      const xml = readFileSync(join(FIXTURES, f), 'utf8')
        .replace(/<emulator>[^<]*<\/emulator>/, `<emulator>${QEMU}</emulator>`)
        .replaceAll(CORPUS_DIR, dir);
      const name = /<name>([^<]+)<\/name>/.exec(xml)?.[1] ?? f;
      // only a guest that boots a kernel onto its serial port prints there: the disks are empty
      const firstByte = /<kernel>/.test(xml) && /console=ttyS0/.test(xml);
      return { label: `virt-install ${f.replace(/\.xml$/, '')}`, name, xml, firstByte };
    })
    .filter((s) => {
      const bridge = /<source bridge="([^"]+)"/.exec(s.xml)?.[1];
      return !bridge || existsSync(`/sys/class/net/${bridge}/bridge`);
    });
}

const smallGuest = (i: number) => `<domain type='qemu'>
  <name>vk-bench-c${i}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>${QEMU}</emulator><memballoon model='none'/></devices>
</domain>`;

/** `CONCURRENT` small guests at once, per peer: wall time until all run, and one start alone. */
async function concurrency(
  conn: Connection,
  v: Virsh | undefined,
  dir: string,
): Promise<{
  vk: number;
  vkOne: number;
  libvirt?: number;
  libvirtOne?: number;
  bare?: number;
  bareOne?: number;
}> {
  const doms: Domain[] = [];
  for (let i = 0; i < CONCURRENT; i++) doms.push(await conn.defineDomain(smallGuest(i)));
  const one: number[] = [];
  let cmd: NativeCommand | undefined;
  for (let i = 0; i < 3; i++) {
    const t = nowUs();
    await doms[0]?.start();
    one.push(nowUs() - t);
    // the same argv for the bare peer
    cmd ??= nativeCommand('vk-bench-c0', dir);
    await doms[0]?.destroy();
  }
  let t = nowUs();
  await Promise.all(doms.map((d) => d.start()));
  const vk = nowUs() - t;
  await Promise.all(doms.map((d) => d.destroy()));
  for (const d of doms) await d.undefine();
  const out: Awaited<ReturnType<typeof concurrency>> = { vk, vkOne: median(one) };
  if (v) {
    const files = doms.map((_, i) => writeXml(dir, `libvirt-c${i}`, smallGuest(i)));
    const lone: number[] = [];
    for (let i = 0; i < 3; i++) {
      lone.push(await libvirtStart(v, files[0] as string));
      await libvirtDestroy(v, 'vk-bench-c0');
    }
    t = nowUs();
    await Promise.all(files.map((f) => libvirtStart(v, f)));
    out.libvirt = nowUs() - t;
    out.libvirtOne = median(lone);
    await Promise.all(files.map((_, i) => libvirtDestroy(v, `vk-bench-c${i}`)));
  }
  if (cmd) {
    const base = cmd;
    const bone: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { us, run } = await bareStart(base, join(dir, 'bare-c.log'));
      bone.push(us);
      await bareDestroy(run);
    }
    // each copy needs its own name and monitor socket (both carry the name)
    const copies = doms.map((_, i) => ({
      env: base.env,
      argv: base.argv.map((a) => a.replaceAll('vk-bench-c0', `vk-bench-c${i}`)),
    }));
    t = nowUs();
    const runs: BareRun[] = await Promise.all(
      copies.map((c, i) => bareStart(c, join(dir, `bare-c${i}.log`)).then((r) => r.run)),
    );
    out.bare = nowUs() - t;
    out.bareOne = median(bone);
    await Promise.all(runs.map((r) => bareDestroy(r)));
  }
  return out;
}

type Concurrency = Awaited<ReturnType<typeof concurrency>>;

function concurrencyRows(c: Concurrency, libvirt: boolean, libvirtNote: string | undefined): BenchRow[] {
  const times = (wall: number, one: number) => `${(wall / one).toFixed(2)}× one start`;
  const note = `virtkit ${times(c.vk, c.vkOne)} (goal < 3×)${
    c.libvirt !== undefined && c.libvirtOne ? `; libvirt ${times(c.libvirt, c.libvirtOne)}` : ''
  }${c.bare !== undefined && c.bareOne ? `; bare QEMU ${times(c.bare, c.bareOne)}` : ''}`;
  return [
    ...rowsFor(
      `${CONCURRENT} small guests started concurrently (wall)`,
      [c.vk],
      [
        [
          LIBVIRT,
          libvirt ? empty() : { ...empty(), skipped: libvirtNote ?? '' },
          c.libvirt !== undefined ? [c.libvirt] : [],
        ],
        [BARE, empty(), c.bare !== undefined ? [c.bare] : []],
      ],
      note,
    ),
    row('one small guest start → running (virtkit)', c.vkOne),
  ];
}

export async function run(): Promise<BenchRow[]> {
  if (spawnSync(QEMU, ['--version'], { stdio: 'ignore' }).status !== 0)
    return [{ name: 'qemu guests', virtkitUs: 0, note: `${QEMU} not installed; skipped` }];
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'vk-bench-guests-'));
  // the private libvirtd runs as nobody when we are root: its QEMU must reach the guests' files
  if (root) chownSync(dir, 65534, 65534);
  const rows: BenchRow[] = [];
  let daemon: Daemon | undefined;
  let libvirtNote: string | undefined;
  if (!LIBVIRTD) libvirtNote = 'libvirtd is not installed';
  else if (!hasCommand('virsh')) libvirtNote = 'virsh is not installed';
  else
    try {
      daemon = await startLibvirtd();
    } catch (err) {
      libvirtNote = `private libvirtd did not start: ${message(err)}`;
    }
  const v = daemon ? virsh(daemon.socket) : undefined;
  const conn = await connect('qemu:///session', {
    driverOptions: {
      cacheDir: null,
      runDir: join(dir, 'vk', 'run'),
      stateDir: join(dir, 'vk', 'state'),
      configDir: join(dir, 'vk', 'config'),
      logDir: join(dir, 'vk', 'log'),
      emulators: [QEMU],
    },
  });
  try {
    const subjects: Subject[] = [];
    const tiny = tinyLinuxSubject(join(dir, 'tiny'));
    if (typeof tiny === 'string') rows.push({ name: 'tiny Linux', virtkitUs: 0, note: `skipped: ${tiny}` });
    else subjects.push(tiny);
    const files = makeCorpusFiles(dir);
    const kernel = findKernel();
    const initrd = kernel && `/boot/initrd.img-${kernel.version}`;
    if (kernel && initrd && existsSync(initrd)) {
      copyFileSync(kernel.image, join(dir, 'vmlinuz'));
      copyFileSync(initrd, join(dir, 'initrd.img'));
    }
    if (root)
      for (const f of [...files, join(dir, 'vmlinuz'), join(dir, 'initrd.img')]) chownSync(f, 65534, 65534);
    subjects.push(...corpusSubjects(dir));
    const destroys: Record<string, number[]> = { virtkit: [], [LIBVIRT]: [], [BARE]: [] };
    for (const s of subjects) {
      const n = s === tiny ? TINY_ITERATIONS : CORPUS_ITERATIONS;
      const vk = empty();
      const lv: Samples = v ? empty() : { ...empty(), skipped: libvirtNote ?? 'no daemon' };
      const bare = empty();
      let cmd: NativeCommand | undefined;
      try {
        // one paused start first: caches warm, and the argv the bare peer runs
        const d = await conn.defineDomain(s.xml);
        await d.start({ paused: true });
        cmd = nativeCommand(s.name, dir);
        await d.destroy();
        await virtkitSamples(d, s, n, vk);
        await d.undefine();
      } catch (err) {
        rows.push({ name: `${s.label}: start`, virtkitUs: 0, note: `virtkit failed: ${message(err)}` });
        continue;
      }
      if (v)
        await libvirtSamples(v, dir, s, n, lv).catch((err: unknown) => {
          lv.skipped = `failed: ${message(err)}`;
          return v.run(['destroy', s.name]).catch(() => '');
        });
      // a guest whose QEMU connects to helpers (swtpm, virtiofsd, passt) cannot run bare
      if (!cmd) bare.skipped = 'no command line captured';
      else if (cmd.argv.some((a) => a.includes('/helpers-')))
        bare.skipped = 'needs the helpers virtkit starts';
      else
        await bareSamples(cmd, dir, s, n, bare).catch((err: unknown) => {
          bare.skipped = `failed: ${message(err)}`;
        });
      const peers: Array<[string, Samples, number[]]> = [
        [LIBVIRT, lv, lv.run],
        [BARE, bare, bare.run],
      ];
      rows.push(...rowsFor(`${s.label}: start → running`, vk.run, peers));
      if (s.firstByte)
        rows.push(
          ...rowsFor(`${s.label}: start → first console byte`, vk.byte, [
            [LIBVIRT, lv, lv.byte],
            [BARE, bare, bare.byte],
          ]),
        );
      destroys.virtkit?.push(...vk.destroy);
      destroys[LIBVIRT]?.push(...lv.destroy);
      destroys[BARE]?.push(...bare.destroy);
    }
    rows.push(
      ...rowsFor('destroy (all guests above)', destroys.virtkit ?? [], [
        [LIBVIRT, v ? empty() : { ...empty(), skipped: libvirtNote ?? '' }, destroys[LIBVIRT] ?? []],
        [BARE, empty(), destroys[BARE] ?? []],
      ]),
    );
    const c = await concurrency(conn, v, dir).catch((err: unknown) => {
      rows.push({
        name: `${CONCURRENT} small guests started concurrently`,
        virtkitUs: 0,
        note: `failed: ${message(err)}`,
      });
      return undefined;
    });
    if (c) rows.push(...concurrencyRows(c, v !== undefined, libvirtNote));
  } finally {
    for (const d of await conn.listDomains({ active: true }).catch(() => []))
      await d.destroy().catch(() => {});
    await conn.close();
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await run();
  for (const r of rows) console.log(JSON.stringify(r));
}
