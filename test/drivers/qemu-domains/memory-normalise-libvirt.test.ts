/**
 * Memory sizes as libvirt 9.0's post-parse leaves them, side by side with
 * the libvirt installed here: the QEMU driver against `virsh define` /
 * `dumpxml` on a private `qemu:///session` libvirtd (as `nobody`, TCG), the
 * test driver against python3-libvirt on `test:///default`.
 *
 * - The QEMU driver defines with libvirt's ABI update: `<memory>` of a
 *   guest with NUMA cells becomes the cells' sum plus the memory devices'
 *   sizes, whatever it said (and `<currentMemory>` follows it down); the
 *   test driver does not, and keeps the `<memory>` given.
 * - Without NUMA cells, memory devices larger than `<memory>` are refused.
 * - Every size is written in KiB, in the inactive and the live XML: the
 *   memory devices' `<size>` and the huge page size too.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import { isVirError, type VirError } from '../../../src/errors.js';
import { CAN_RUN_LIBVIRT_SESSION } from '../qemu/libvirt-session.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';
import { PYTHON_LIBVIRT } from '../remote/libvirtd.js';

/** NUMA cells of 64 + 64 MiB and a 128 MiB DIMM under a `<memory>` of `memory`. */
function numaGuest(name: string, memory: string, current: string, type = 'qemu'): string {
  return `<domain type='${type}'><name>${name}</name>${memory}${current}
<maxMemory slots='4' unit='MiB'>8192</maxMemory><vcpu>2</vcpu>
<memoryBacking><hugepages><page size='2' unit='MiB'/></hugepages></memoryBacking>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
<cpu><numa><cell id='0' cpus='0' memory='64' unit='MiB'/><cell id='1' cpus='1' memory='64' unit='MiB'/></numa></cpu>
<devices><emulator>${QEMU_BINARY}</emulator><memballoon model='none'/>
<memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory></devices></domain>`;
}

const CASES: Record<string, string> = {
  above: numaGuest(
    'vk-mem-above',
    "<memory unit='MiB'>4096</memory>",
    "<currentMemory unit='MiB'>4096</currentMemory>",
  ),
  below: numaGuest(
    'vk-mem-below',
    "<memory unit='MiB'>100</memory>",
    "<currentMemory unit='MiB'>50</currentMemory>",
  ),
  none: numaGuest('vk-mem-none', '', ''),
  // started too, for the live XML (no huge pages: this host need not have them)
  live: numaGuest('vk-mem-live', "<memory unit='MiB'>4096</memory>", '').replace(
    /<memoryBacking>.*<\/memoryBacking>\n/,
    '',
  ),
  // no NUMA: the DIMM is larger than the memory it is part of
  devices: `<domain type='qemu'><name>vk-mem-devs</name><memory unit='MiB'>64</memory>
<maxMemory slots='4' unit='MiB'>8192</maxMemory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><emulator>${QEMU_BINARY}</emulator>
<memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory></devices></domain>`,
};

/** The lines that carry a size: `<memory>`, `<currentMemory>`, `<maxMemory>`, cells, pages, device sizes. */
function sizes(xml: string): string[] {
  return xml
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^<(memory unit|currentMemory|maxMemory|cell |page |size )/.test(l));
}

type Outcome = { sizes: string[]; live?: string[] } | { error: string };

/** Each case through libvirt's QEMU driver: define and dumpxml --inactive, or its error line. */
function libvirtQemu(): Record<string, Outcome> {
  const home = mkdtempSync(join(tmpdir(), 'vk-libvirt-'));
  chmodSync(home, 0o777);
  const virsh = (args: string[]) =>
    spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        'env',
        `HOME=${home}`,
        `XDG_RUNTIME_DIR=${join(home, 'run')}`,
        'virsh',
        '-c',
        'qemu:///session',
        ...args,
      ],
      { encoding: 'utf8', timeout: 60_000, cwd: home },
    );
  try {
    const out: Record<string, Outcome> = {};
    for (const [key, xml] of Object.entries(CASES)) {
      const file = join(home, `${key}.xml`);
      writeFileSync(file, xml, { mode: 0o644 });
      const def = virsh(['define', file]);
      const name = /<name>([^<]+)<\/name>/.exec(xml)?.[1] as string;
      if (def.status !== 0) {
        // "error: XML error: <message>": the code's phrase, then the message
        const line = def.stderr.trim().split('\n')[1] ?? '';
        out[key] = { error: line.replace(/^error: XML error: /, '') };
        continue;
      }
      out[key] = { sizes: sizes(virsh(['dumpxml', '--inactive', name]).stdout) };
      if (key === 'live') {
        expect(virsh(['start', name]).status).toBe(0);
        out[key] = { ...out[key], live: sizes(virsh(['dumpxml', name]).stdout) };
        virsh(['destroy', name]);
      }
    }
    return out;
  } finally {
    try {
      const pid = Number(readFileSync(join(home, 'run/libvirt/libvirtd.pid'), 'utf8').trim());
      if (pid > 1) process.kill(pid, 'SIGTERM');
    } catch {}
    // a guest the daemon left running when a step failed
    for (const pid of qemuProcessesMentioning(home)) process.kill(pid, 'SIGKILL');
    rmSync(home, { recursive: true, force: true });
  }
}

async function outcome(p: Promise<string>): Promise<Outcome> {
  try {
    return { sizes: sizes(await p) };
  } catch (err) {
    expect(isVirError(err), String(err)).toBe(true);
    return { error: (err as VirError).message.replace(/ \(line \d+\)$/, '') };
  }
}

const allRoots: TestRoots[] = [];
const conns: Connection[] = [];
afterAll(async () => {
  for (const c of conns) {
    for (const d of await c.listDomains({ active: true })) await d.destroy().catch(() => {});
    await c.close();
  }
  for (const r of allRoots) r.remove();
});

const CAN = HAS_QEMU && CAN_RUN_LIBVIRT_SESSION;

describe.skipIf(!CAN)(
  `the QEMU driver's memory sizes at define, against libvirt 9.0${CAN ? '' : ' (skipped: needs root, virsh, libvirtd, setpriv and QEMU)'}`,
  () => {
    it('recomputes <memory> from the NUMA cells and memory devices, in KiB, or refuses as libvirt does', async () => {
      const theirs = libvirtQemu();
      const roots = tempRoots('vk-memnorm-');
      allRoots.push(roots);
      const conn = await connect('qemu:///session', {
        driverOptions: {
          cacheDir: null,
          runDir: join(roots.path, 'rundir'),
          stateDir: join(roots.path, 'state'),
          configDir: join(roots.path, 'config'),
          logDir: join(roots.path, 'log'),
          emulators: [QEMU_BINARY],
        },
      });
      conns.push(conn);
      for (const [key, xml] of Object.entries(CASES)) {
        let ours = await outcome(conn.defineDomain(xml).then((d) => d.getXML({ inactive: true })));
        if (key === 'live') {
          const dom = await conn.lookupDomain('vk-mem-live');
          await dom.start();
          ours = { ...ours, live: sizes(await dom.getXML()) };
          await dom.destroy();
        }
        expect(ours, key).toEqual(theirs[key]);
      }
      // the refusal is an XML error naming <memory>
      const refused = await conn.defineDomain(CASES.devices as string).then(
        () => undefined,
        (e: unknown) => e as VirError,
      );
      expect(refused).toMatchObject({ code: 'XML_ERROR', field: '/domain/memory' });
    });
  },
);

describe.skipIf(!PYTHON_LIBVIRT)(
  `the test driver's memory sizes, against python3-libvirt on test:///default${PYTHON_LIBVIRT ? '' : ' (skipped: no python3-libvirt)'}`,
  () => {
    it('keeps <memory> as given (no ABI update) and writes every size in KiB, inactive and live', async () => {
      const xml = (CASES.above as string).replace("type='qemu'", "type='test'");
      const script = `
import json, sys, libvirt
c = libvirt.open('test:///default')
d = c.defineXML(sys.stdin.read())
inactive = d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
d.create()
print(json.dumps([inactive, d.XMLDesc(0)]))
`;
      const [theirInactive, theirLive] = JSON.parse(
        spawnSync(PYTHON_LIBVIRT as string, ['-c', script], { input: xml, encoding: 'utf8' }).stdout,
      ) as [string, string];
      const conn = await connect('test:///default');
      const dom = await conn.defineDomain(xml);
      expect(sizes(await dom.getXML({ inactive: true }))).toEqual(sizes(theirInactive));
      await dom.start();
      expect(sizes(await dom.getXML())).toEqual(sizes(theirLive));
      // not the cells' sum: libvirt's test driver parses without the ABI update
      expect(sizes(theirInactive)).toContain("<memory unit='KiB'>4194304</memory>");
      await conn.close();
    });
  },
);
