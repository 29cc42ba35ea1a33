/**
 * Probes a QEMU binary: starts it with `-machine none` once per accelerator
 * (KVM when usable, and always TCG), in parallel, asks what libvirt asks,
 * and builds {@link QemuCaps}. Commands are pipelined (all sent at once,
 * answered in order), so a probe costs little more than QEMU's start-up.
 * Every path kills the processes and removes the temporary directory.
 *
 * @module
 */

import { setMaxListeners } from 'node:events';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toVirError, VirError } from '../../../errors.js';
import { QmpError } from '../qmp/qmp-error.js';
import { DEVICE_PROP_FLAGS, OBJECT_PROP_FLAGS } from './capability-flag-rules.js';
import { machinePropQueries } from './capability-flags.js';
import type { AccelProbeData, ProbeData } from './probe-data.js';
import { recordAnswer } from './probe-record.js';
import { archFromQemuTarget, buildQemuCaps, type QemuAccel, type QemuCaps } from './qemu-caps.js';
import { type MonitorProcess, startMonitorProcess } from './qemu-monitor-process.js';

/** How `probeQemu` runs the binary. */
export interface ProbeOptions {
  /** Aborts the probe and stops the QEMU it started. */
  signal?: AbortSignal;
  /** Probe with KVM too. Default: when /dev/kvm is usable. */
  kvm?: boolean;
  /** Where the private socket directory goes. Default the OS temp dir. */
  runDir?: string;
  /** Milliseconds for the whole probe of one accelerator. Default 30 s. */
  timeoutMs?: number;
}

/**
 * Device types whose properties libvirt asks about (and so do we), in its
 * order: the flag table's types, each once.
 */
export const PROBED_DEVICE_TYPES: readonly string[] = [...new Set(DEVICE_PROP_FLAGS.map((r) => r.type))];

/** Object types whose properties libvirt asks about. */
const PROBED_OBJECT_TYPES: readonly string[] = OBJECT_PROP_FLAGS.map((r) => r.type);

/** Whether this process can open /dev/kvm for reading and writing. */
export async function kvmUsable(): Promise<boolean> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs one QEMU binary with `-machine none`, asks it over QMP everything libvirt asks (`query-*`,
 * `qom-list-types`, ...) with TCG and, when usable, KVM, and returns what it can do.
 */
export async function probeQemu(binary: string, options: ProbeOptions = {}): Promise<QemuCaps> {
  // Every pipelined command listens for abort: give them a signal of our own
  // rather than piling listeners onto the caller's.
  const outer = options.signal;
  if (outer) {
    const local = new AbortController();
    setMaxListeners(0, local.signal);
    const relay = () => local.abort(outer.reason);
    if (outer.aborted) relay();
    else outer.addEventListener('abort', relay, { once: true });
    try {
      return await probeLinked(binary, { ...options, signal: local.signal });
    } finally {
      outer.removeEventListener('abort', relay);
    }
  }
  return probeLinked(binary, options);
}

async function probeLinked(binary: string, options: ProbeOptions): Promise<QemuCaps> {
  const useKvm = options.kvm ?? (await kvmUsable());
  const data: ProbeData = { emulator: binary, accel: {} };
  const accels: QemuAccel[] = useKvm ? ['kvm', 'tcg'] : ['tcg'];
  // The TCG process, which always runs, answers the accelerator-independent questions.
  const results = await Promise.allSettled(
    accels.map((accel) => probeOne(binary, accel, accel === 'tcg', data, options)),
  );
  for (const [i, r] of results.entries()) {
    const accel = accels[i] as QemuAccel;
    if (r.status === 'rejected') {
      // KVM can be listed yet fail to start (nested virt, permissions): TCG alone is still a valid answer.
      if (accel === 'kvm' && results[1]?.status === 'fulfilled' && !isAbort(r.reason)) continue;
      throw toVirError(r.reason, 'OPERATION_FAILED', 'qemu', `probing ${binary}`);
    }
    data.accel[accel] = r.value;
  }
  if (!data.accel.kvm && data.kvm) data.kvm = { ...data.kvm, enabled: false };
  if (!data.version) {
    throw new VirError('OPERATION_FAILED', 'qemu', `probing ${binary}: no answer to query-version`);
  }
  return buildQemuCaps(data);
}

function isAbort(err: unknown): boolean {
  return err instanceof QmpError && err.reason === 'aborted';
}

async function probeOne(
  binary: string,
  accel: QemuAccel,
  general: boolean,
  data: ProbeData,
  options: ProbeOptions,
): Promise<AccelProbeData> {
  const runDir = options.runDir ?? tmpdir();
  let dir: string;
  try {
    await mkdir(runDir, { recursive: true, mode: 0o700 });
    dir = await mkdtemp(join(runDir, 'virtkit-probe-'));
  } catch (err) {
    throw toVirError(err, 'WRITE_FAILED', 'qemu', `cannot create a probe directory in ${runDir}`);
  }
  let proc: MonitorProcess | undefined;
  try {
    const startOpts: Parameters<typeof startMonitorProcess>[0] = {
      binary,
      args: ['-S', '-no-user-config', '-nodefaults', '-nographic', '-machine', 'none', '-accel', accel],
      dir,
      startTimeoutMs: options.timeoutMs ?? 30_000,
      commandTimeoutMs: options.timeoutMs ?? 30_000,
    };
    if (options.signal) startOpts.signal = options.signal;
    proc = await startMonitorProcess(startOpts);
    const qmp = proc.qmp;
    const accelData: AccelProbeData = {};
    const asks: Ask[] = [];
    if (general) {
      asks.push(
        ['query-version', undefined],
        ['query-target', undefined],
        ['query-qmp-schema', undefined],
        ['qom-list-types', undefined],
      );
      for (const t of PROBED_DEVICE_TYPES) asks.push(['device-list-properties', { typename: t }]);
      for (const t of PROBED_OBJECT_TYPES) asks.push(['qom-list-properties', { typename: t }]);
      asks.push(
        ['query-tpm-models', undefined],
        ['query-tpm-types', undefined],
        ['query-command-line-options', undefined],
        ['query-migrate-capabilities', undefined],
        ['query-gic-capabilities', undefined],
        ['query-sev-capabilities', undefined],
        ['query-sgx-capabilities', undefined],
      );
    }
    if (accel === 'kvm') asks.push(['query-kvm', undefined]);
    const cpu = accel === 'kvm' ? 'host' : 'max';
    asks.push(
      ['query-machines', undefined],
      ['query-cpu-definitions', undefined],
      ['query-cpu-model-expansion', { type: 'static', model: { name: cpu } }],
      ['query-cpu-model-expansion', { type: 'static', model: { name: cpu, props: { migratable: false } } }],
    );
    if (accel === 'kvm') {
      asks.push([
        'query-cpu-model-expansion',
        { type: 'full', model: { name: 'host', props: { migratable: false, 'hv-passthrough': true } } },
      ]);
    }
    // A plain full expansion tells the deprecated features (QEMU >= 10.1 reports them; older ones just expand).
    asks.push(['query-cpu-model-expansion', { type: 'full', model: { name: cpu } }]);
    const cmdOpts = options.signal ? { signal: options.signal } : {};
    await askAll(qmp, asks, cmdOpts, data, accelData);
    if (general) {
      // Machine properties are asked of the machines the binary has, so they wait for query-machines.
      const arch = archFromQemuTarget(data.target?.arch ?? '');
      const machineAsks: Ask[] = machinePropQueries(accelData.machines ?? [], arch).map(({ qomType }) => [
        'qom-list-properties',
        { typename: qomType },
      ]);
      await askAll(qmp, machineAsks, cmdOpts, data, accelData);
    }
    return accelData;
  } finally {
    await proc?.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

type Ask = [command: string, args: Record<string, unknown> | undefined];

/** Sends the commands pipelined and files each answer; a refused command means "not supported here". */
async function askAll(
  qmp: MonitorProcess['qmp'],
  asks: readonly Ask[],
  cmdOpts: { signal?: AbortSignal },
  data: ProbeData,
  accelData: AccelProbeData,
): Promise<void> {
  const answers = await Promise.all(
    asks.map(([cmd, args]) =>
      qmp.execute(cmd, args, cmdOpts).then(
        (ret) => ({ ok: true as const, ret }),
        (err: unknown) => {
          // Anything but QEMU refusing the command ends the probe.
          if (err instanceof QmpError && err.reason === 'command') return { ok: false as const };
          throw err;
        },
      ),
    ),
  );
  asks.forEach(([cmd, args], i) => {
    const a = answers[i];
    if (a?.ok) recordAnswer(data, accelData, cmd, args, a.ret);
    else if (cmd === 'query-sev-capabilities') data.sev = null;
    else if (cmd === 'query-sgx-capabilities') data.sgx = null;
  });
}
