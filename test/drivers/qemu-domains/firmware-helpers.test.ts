/**
 * The real start path of qemu:///session with what a guest needs besides
 * QEMU: UEFI firmware chosen from the host's descriptors (with its NVRAM
 * copied from the template at first start) and swtpm for an emulated TPM,
 * which QEMU must see and which must be gone with the guest.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import type { DomainEvent } from '../../../src/driver.js';
import { hostFirmwareDescriptors } from '../../../src/drivers/qemu/defaults/firmware-files.js';
import { QmpClient } from '../../../src/drivers/qemu/qmp/index.js';
import { isVirError } from '../../../src/errors.js';
import {
  HAS_QEMU,
  monitorPathOf,
  QEMU_BINARY,
  QEMU_NOTE,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';

const descriptors = await hostFirmwareDescriptors('system');
const OVMF = descriptors.find(
  (d) => d.interfaces.includes('uefi') && d.targets.some((t) => t.architecture === 'x86_64'),
);
const FW_NOTE = OVMF
  ? ''
  : ' (skipped: no x86_64 UEFI firmware descriptor under /usr/share/qemu/firmware or /etc/qemu/firmware)';
const HAS_SWTPM = (() => {
  try {
    execFileSync('swtpm', ['socket', '--print-capabilities'], { stdio: 'ignore' });
    execFileSync('swtpm_setup', ['--print-capabilities'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const TPM_NOTE = HAS_SWTPM ? '' : ' (skipped: swtpm and swtpm_setup are not installed)';

let roots: TestRoots;
let conn: Connection | undefined;

beforeEach(() => {
  roots = tempRoots('vk-fw-');
});

afterEach(async () => {
  if (conn && !conn.isClosed) {
    for (const d of await conn.listDomains({ active: true })) await d.destroy().catch(() => {});
    await conn.close();
  }
  conn = undefined;
  for (const pid of qemuProcessesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
  for (const pid of swtpmsMentioning(roots.path)) process.kill(pid, 'SIGKILL');
  roots.remove();
});

function options(extra: Record<string, string> = {}) {
  return {
    cacheDir: null,
    runDir: join(roots.path, 'rundir'),
    stateDir: join(roots.path, 'state'),
    configDir: join(roots.path, 'config'),
    logDir: join(roots.path, 'log'),
    emulators: [QEMU_BINARY],
    ...extra,
  };
}

async function open(extra: Record<string, string> = {}): Promise<Connection> {
  conn = await connect('qemu:///session', { driverOptions: options(extra) });
  return conn;
}

function swtpmsMentioning(marker: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const zombie = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
      if (!zombie && (cmd.split('\0')[0] ?? '').endsWith('/swtpm') && cmd.includes(marker))
        out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every file under `dir`, relative. */
function files(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? files(join(dir, d.name), base) : [join(dir, d.name).slice(base.length + 1)],
  );
}

function q35(name: string, uuid: string, inner: { os?: string; devices?: string }): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os${inner.os ?? ''}><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator>${inner.devices ?? ''}</devices>
</domain>`;
}

describe.skipIf(!HAS_QEMU || !OVMF)(`UEFI firmware from the host's descriptors${QEMU_NOTE}${FW_NOTE}`, () => {
  it("<os firmware='efi'>: loader and NVRAM filled in at define, NVRAM copied from the template at start", async () => {
    const c = await open();
    const dom = await c.defineDomain(
      q35('efi', 'e0000000-0000-4000-8000-000000000001', { os: " firmware='efi'" }),
    );
    const xml = await dom.getXML();
    const loader = /<loader[^>]*>([^<]+)<\/loader>/.exec(xml)?.[1];
    const nvram = /<nvram[^>]*template='([^']+)'[^>]*>([^<]+)<\/nvram>/.exec(xml);
    // the first descriptor (by file name) that fits a q35 guest with no feature requests
    const want = descriptors.find(
      (d) =>
        d.interfaces.includes('uefi') &&
        d.targets.some((t) => t.machines.some((m) => m.startsWith('pc-q35'))),
    );
    expect(want?.mapping.device).toBe('flash');
    if (want?.mapping.device !== 'flash') return;
    expect(loader).toBe(want.mapping.executable.filename);
    expect(nvram?.[1]).toBe(want.mapping.nvramTemplate?.filename);
    const nvramPath = nvram?.[2] ?? '';
    expect(nvramPath).toBe(join(roots.path, 'state', 'nvram', 'efi_VARS.fd'));
    if (want.features.includes('requires-smm')) expect(xml).toMatch(/<smm state='on'\/>/);
    expect(existsSync(nvramPath)).toBe(false);
    await dom.start({ paused: true });
    expect(readFileSync(nvramPath).equals(readFileSync(want.mapping.nvramTemplate?.filename ?? ''))).toBe(
      true,
    );
    // the guest's store is its own from now on: a second start keeps what the guest wrote
    writeFileSync(nvramPath, Buffer.alloc(readFileSync(nvramPath).length, 7));
    await dom.destroy();
    await dom.start({ paused: true });
    expect(readFileSync(nvramPath)[0]).toBe(7);
    await dom.destroy();
  });

  it('asking for Secure Boot with SMM off is refused at define, naming the firmware', async () => {
    const c = await open();
    const err = await c
      .defineDomain(
        q35('sb', 'e0000000-0000-4000-8000-000000000002', {
          os: " firmware='efi'><firmware><feature enabled='yes' name='secure-boot'/></firmware",
        }).replace('</os>', "</os><features><smm state='off'/></features>"),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isVirError(err), String(err)).toBe(true);
    expect(err).toMatchObject({ code: 'CONFIG_UNSUPPORTED', field: '/domain/os/@firmware' });
    expect(String((err as Error).message)).toMatch(/SMM/);
  });
});

describe.skipIf(!HAS_QEMU || !HAS_SWTPM)(`swtpm for an emulated TPM${QEMU_NOTE}${TPM_NOTE}`, () => {
  const TPM = "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>";

  it('QEMU sees the TPM (query-tpm); swtpm and its runtime files are gone after destroy; the state stays', async () => {
    let c = await open();
    const uuid = 'e0000000-0000-4000-8000-000000000003';
    const dom = await c.defineDomain(q35('tpm', uuid, { devices: TPM }));
    await dom.start({ paused: true });
    const stateDir = join(roots.path, 'state', 'swtpm', uuid, 'tpm2');
    expect(readdirSync(stateDir)).toContain('tpm2-00.permall');
    expect(swtpmsMentioning(roots.path)).toHaveLength(1);
    // let the driver go of the monitor to ask QEMU ourselves, then take the guest back
    await c.close();
    const qmp = await QmpClient.connect(monitorPathOf(join(roots.path, 'state'), uuid));
    const tpms = (await qmp.execute('query-tpm')) as Array<{
      id: string;
      model: string;
      options: { type: string };
    }>;
    await qmp.close();
    // QEMU names the backend (-tpmdev id) and reaches it through the chardev on swtpm's socket
    expect(tpms).toEqual([
      { id: 'tpm-tpm0', model: 'tpm-crb', options: { type: 'emulator', data: { chardev: 'chrtpm' } } },
    ]);
    c = await open();
    const again = await c.lookupDomain('tpm');
    await again.destroy();
    await until('swtpm to end', () => swtpmsMentioning(roots.path).length === 0);
    expect(files(join(roots.path, 'state', 'qemu')).filter((f) => f.includes('swtpm'))).toEqual([]);
    // nothing outside the roots: everything is under state/ and log/
    for (const entry of readdirSync(roots.path))
      expect(['config', 'log', 'rundir', 'state']).toContain(entry);
    // the TPM state persists: a second start does not manufacture it again
    const log = join(roots.path, 'log', 'swtpm', 'tpm-swtpm.log');
    const manufactured = () => readFileSync(log, 'utf8').split('Starting vTPM manufacturing').length - 1;
    expect(manufactured()).toBe(1);
    await again.start({ paused: true });
    expect(swtpmsMentioning(roots.path)).toHaveLength(1);
    await again.destroy();
    expect(manufactured()).toBe(1);
    // undefining the domain removes its TPM, as libvirt does without persistent_state='yes'
    await again.undefine();
    expect(existsSync(join(roots.path, 'state', 'swtpm', uuid))).toBe(false);
    await until('swtpm to end', () => swtpmsMentioning(roots.path).length === 0);
  });

  it('swtpm dying under a running guest stops the guest: a stopped/failed event, the reason in its log', async () => {
    const c = await open();
    const dom = await c.defineDomain(q35('lost', 'e0000000-0000-4000-8000-000000000005', { devices: TPM }));
    await dom.start({ paused: true });
    const events: string[] = [];
    void (async () => {
      for await (const e of c.events() as AsyncIterable<DomainEvent>) events.push(`${e.event}/${e.detail}`);
    })();
    const [swtpm] = swtpmsMentioning(roots.path);
    expect(swtpm).toBeDefined();
    process.kill(swtpm ?? -1, 'SIGKILL');
    await until('the stopped event', () => events.includes('stopped/failed'));
    expect((await dom.getState()).state).toBe('shutoff');
    expect(qemuProcessesMentioning(roots.path)).toEqual([]);
    expect(readFileSync(join(roots.path, 'log', 'qemu', 'lost.log'), 'utf8')).toMatch(
      /helper swtpm exited with signal SIGKILL; stopping the guest/,
    );
  });

  it('a helper that exits at once: the start fails with a typed error, nothing left running', async () => {
    const fake = join(roots.path, 'fake-swtpm');
    writeFileSync(fake, '#!/bin/sh\necho "fake swtpm: cannot serve" >&2\nexit 3\n');
    chmodSync(fake, 0o755);
    const c = await open({ swtpm: fake });
    const dom = await c.defineDomain(q35('dies', 'e0000000-0000-4000-8000-000000000004', { devices: TPM }));
    const err = await dom.start({ paused: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isVirError(err), String(err)).toBe(true);
    expect(err).toMatchObject({ code: 'OPERATION_FAILED' });
    expect(String((err as Error).message)).toMatch(/swtpm exited with status 3.*cannot serve/s);
    expect((await dom.getState()).state).toBe('shutoff');
    expect(qemuProcessesMentioning(roots.path)).toEqual([]);
    expect(
      existsSync(join(roots.path, 'state', 'qemu', 'helpers-e0000000-0000-4000-8000-000000000004')),
    ).toBe(false);
  });
});
