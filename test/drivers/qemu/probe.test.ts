import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kvmUsable, probeQemu } from '../../../src/drivers/qemu/probe/probe.js';
import { buildQemuCaps, defaultMachine, findMachine } from '../../../src/drivers/qemu/probe/qemu-caps.js';
import { parseTranscript, probeDataFromTranscript } from '../../../src/drivers/qemu/probe/transcript.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../../shared-data.js';
import { writeFakeQemu } from './fake-qemu.js';
import { childPids, HAS_QEMU, QEMU_BINARY, QEMU_NOTE, tempDir } from './helpers.js';

const childrenBefore = new Set(childPids());
afterAll(() => {
  // every QEMU (and fake QEMU) a test started has been reaped
  expect(childPids().filter((p) => !childrenBefore.has(p))).toEqual([]);
});

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => {
  dir.remove();
});

describe('transcript replay', () => {
  it('pairs commands with replies and splits sessions at qmp_capabilities', () => {
    const text = [
      '{"execute": "qmp_capabilities", "id": "a-1"}',
      '{"return": {}, "id": "a-1"}',
      '{"execute": "query-version", "id": "a-2"}',
      '{"return": {"qemu": {"major": 8, "minor": 1, "micro": 3}, "package": "x"}, "id": "a-2"}',
      '{"execute": "query-target", "id": "a-3"}',
      '{"return": {"arch": "i386"}, "id": "a-3"}',
      '{"execute": "query-kvm", "id": "a-4"}',
      '{"return": {"enabled": true, "present": true}, "id": "a-4"}',
      '{"execute": "query-machines", "id": "a-5"}',
      '{"return": [{"name": "none", "cpu-max": 1}, {"name": "pc-q35-8.1", "alias": "q35", "cpu-max": 1024}, {"name": "pc-i440fx-8.1", "alias": "pc", "is-default": true, "cpu-max": 255}], "id": "a-5"}',
      '{"execute": "query-sev-capabilities", "id": "a-6"}',
      '{"error": {"class": "GenericError", "desc": "SEV not available"}, "id": "a-6"}',
      '{"execute": "qmp_capabilities", "id": "b-1"}',
      '{"return": {}, "id": "b-1"}',
      '{"execute": "query-machines", "id": "b-2"}',
      '{"return": [{"name": "pc-i440fx-8.1", "is-default": true, "cpu-max": 255}], "id": "b-2"}',
    ].join('\n\n');
    expect(parseTranscript(text)).toHaveLength(8);
    const caps = buildQemuCaps(probeDataFromTranscript(text, '/usr/bin/qemu-system-i386'));
    expect(caps.arch).toBe('i686'); // libvirt's name for QEMU's i386 target
    expect(caps.versionNumber).toBe(8_001_003);
    expect(caps.sev).toBeNull();
    // `none` is the probe's own machine, never offered to guests; the default comes first
    expect(caps.accel.kvm?.machines.map((m) => m.name)).toEqual(['pc-i440fx-8.1', 'pc-q35-8.1']);
    expect(findMachine(caps, 'kvm', 'q35')?.name).toBe('pc-q35-8.1');
    expect(defaultMachine(caps, 'tcg')?.name).toBe('pc-i440fx-8.1');
  });

  it('reports a broken transcript with its line', () => {
    expect(() => parseTranscript('{"execute": "x"}\n\n{"return": \n\n')).toThrow(
      expect.objectContaining({ code: 'PARSE_FAILED', line: 3 }),
    );
    expect(() => parseTranscript('{"execute": "x"}\n\n{"execute": "y"}')).toThrow(
      expect.objectContaining({ code: 'PARSE_FAILED' }),
    );
  });

  it.skipIf(!HAS_SHARED)(`replays libvirt's 9.1.0 probe into the facts libvirt derived${SHARED_NOTE}`, () => {
    const text = readFileSync(join(SHARED_DIR, 'qemucaps/caps_9.1.0_x86_64.replies'), 'utf8');
    const caps = buildQemuCaps(probeDataFromTranscript(text, '/usr/bin/qemu-system-x86_64'));
    // values read from libvirt's caps_9.1.0_x86_64.xml
    const xml = readFileSync(join(SHARED_DIR, 'qemucaps/caps_9.1.0_x86_64.xml'), 'utf8');
    expect(xml).toContain(`<version>${caps.versionNumber}</version>`);
    expect(caps.versionNumber).toBe(9_001_000);
    const q35 = findMachine(caps, 'kvm', 'q35');
    expect(xml).toContain(`<machine type='kvm' name='${q35?.name}' alias='q35'`);
    const machineCount = (xml.match(/<machine type='kvm'/g) ?? []).length;
    expect(caps.accel.kvm?.machines).toHaveLength(machineCount);
    const cpuCount = (xml.match(/<cpu type='tcg'/g) ?? []).length;
    expect(caps.accel.tcg?.cpuModels).toHaveLength(cpuCount);
  });
});

describe.skipIf(!HAS_QEMU)(`probing real QEMU${QEMU_NOTE}`, () => {
  it('finds the version, target, machines and CPU models of the installed binary', async () => {
    const caps = await probeQemu(QEMU_BINARY, { runDir: dir.path });
    const banner = execFileSync(QEMU_BINARY, ['--version'], { encoding: 'utf8' });
    const m = /version (\d+)\.(\d+)\.(\d+)/.exec(banner);
    expect(m).not.toBeNull();
    expect(caps.version).toEqual({ major: Number(m?.[1]), minor: Number(m?.[2]), micro: Number(m?.[3]) });
    expect(caps.arch).toBe('x86_64');
    const machines = execFileSync(QEMU_BINARY, ['-machine', 'help'], { encoding: 'utf8' });
    const tcg = caps.accel.tcg;
    expect(tcg).toBeDefined();
    // every machine QEMU lists in `-machine help` (but `none`) is there, and the default is the one marked so
    const listed = machines
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/)[0])
      .filter((n): n is string => !!n && n !== 'none');
    const ours = new Set(tcg?.machines.flatMap((mt) => [mt.name, ...(mt.alias ? [mt.alias] : [])]));
    for (const n of listed) expect(ours.has(n), n).toBe(true);
    const defaultLine = machines.split('\n').find((l) => l.includes('(default)')) ?? '';
    expect(defaultLine).toContain(defaultMachine(caps, 'tcg')?.name ?? '???');
    expect(tcg?.cpuModels.some((c) => c.name === 'qemu64')).toBe(true);
    expect(tcg?.hostCpu?.props.length).toBeGreaterThan(10);
    expect(caps.qomTypes).toContain('virtio-net-pci');
    expect(caps.commands).toContain('query-machines');
    expect(caps.accel.kvm !== undefined).toBe(await kvmUsable());
    // the private socket directory is gone
    expect(readdirSync(dir.path)).toEqual([]);
  });

  it('probes TCG only when asked to skip KVM', async () => {
    const caps = await probeQemu(QEMU_BINARY, { runDir: dir.path, kvm: false });
    expect(caps.accel.kvm).toBeUndefined();
    expect(caps.accel.tcg?.machines.length).toBeGreaterThan(0);
  });

  it('stops at once when aborted, leaving nothing behind', async () => {
    const ac = new AbortController();
    const p = probeQemu(QEMU_BINARY, { runDir: dir.path, signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'OPERATION_ABORTED' });
    expect(readdirSync(dir.path)).toEqual([]);
  });
});

describe('probing binaries that are not (well-behaved) QEMU', () => {
  it('a missing binary', async () => {
    await expect(probeQemu(join(dir.path, 'nope'), { runDir: dir.path, kvm: false })).rejects.toMatchObject({
      code: 'OPERATION_FAILED',
      domain: 'qemu',
    });
  });

  it('a binary that is not QEMU', async () => {
    const err = await probeQemu('/bin/true', { runDir: dir.path, kvm: false }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'OPERATION_FAILED' });
    expect((err as Error).message).toMatch(/exited with status 0 before its monitor was ready/);
  });

  it('one that crashes mid-probe', async () => {
    const bin = writeFakeQemu(dir.path, 'crash-mid-probe');
    const err = await probeQemu(bin, { runDir: dir.path, kvm: false }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'OPERATION_FAILED', domain: 'qmp', reason: 'closed' });
  });

  it('one that answers garbage', async () => {
    const bin = writeFakeQemu(dir.path, 'garbage');
    await expect(probeQemu(bin, { runDir: dir.path, kvm: false })).rejects.toMatchObject({
      code: 'INTERNAL_ERROR',
      reason: 'malformed',
    });
  });

  it('one that closes in the middle of a reply', async () => {
    const bin = writeFakeQemu(dir.path, 'truncated');
    const err = await probeQemu(bin, { runDir: dir.path, kvm: false }).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'closed' });
    expect((err as Error).message).toMatch(/middle of a reply/);
  });

  it('one that hangs before the greeting', async () => {
    const bin = writeFakeQemu(dir.path, 'silent');
    await expect(probeQemu(bin, { runDir: dir.path, kvm: false, timeoutMs: 300 })).rejects.toMatchObject({
      code: 'OPERATION_TIMEOUT',
    });
    const left = readdirSync(dir.path).filter((f) => f.startsWith('virtkit-probe-'));
    expect(left).toEqual([]);
  });
});
