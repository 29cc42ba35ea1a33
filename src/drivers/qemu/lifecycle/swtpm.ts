/**
 * swtpm, the helper behind `<tpm><backend type='emulator'>`: its per-guest
 * state is made once by `swtpm_setup` (an endorsement key and certificates,
 * as libvirt asks for) and kept across restarts; each start runs
 * `swtpm socket` on a control socket QEMU connects to.
 *
 * Files, as libvirt lays them out under its own roots:
 * - state: `<stateRoot>/swtpm/<uuid>/tpm2` (or `tpm1.2`), or the backend's `<source type='dir' path>`;
 * - log: `<logRoot>/swtpm/<name>-swtpm.log`;
 * - control socket and pid file: `<stateRoot>/qemu/helpers-<uuid>/`, removed when swtpm stops.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TpmDef } from '../../../conf/domain/devices/index.js';
import { VirError } from '../../../errors.js';
import { readLogTail } from './domain-log.js';
import type { HelperSpec } from './guest-helper.js';
import { MAX_SOCKET_PATH, type RunnerRoots } from './runner-command.js';

export interface SwtpmBinaries {
  readonly swtpm: string;
  readonly swtpmSetup: string;
}

export interface SwtpmFiles {
  readonly stateDir: string;
  readonly logFile: string;
  readonly socket: string;
  readonly pidFile: string;
}

const FIELD = '/domain/devices/tpm[1]/backend';
const SETUP_TIMEOUT_MS = 60_000;

function unsupported(what: string, field: string): VirError {
  return new VirError('CONFIG_UNSUPPORTED', 'qemu', `${what} is not supported for an emulated TPM yet`, {
    field,
  });
}

/** The per-run directory of a guest's helpers (outside the runner's own, which it wipes at start). */
export function helperRunDir(roots: RunnerRoots, uuid: string): string {
  return join(roots.stateRoot, 'qemu', `helpers-${uuid}`);
}

/** Where this guest's swtpm keeps its state, log, socket and pid file. */
export function swtpmFiles(
  roots: RunnerRoots,
  guest: { name: string; uuid: string },
  tpm: TpmDef,
): SwtpmFiles {
  const backend = tpm.backend;
  if (backend?.encryption) throw unsupported('encrypted TPM state', `${FIELD}/encryption`);
  if (backend?.activePcrBanks)
    throw unsupported('choosing the active PCR banks', `${FIELD}/active_pcr_banks`);
  const source = backend?.source;
  if (source !== undefined && (source.type !== 'dir' || source.path === undefined))
    throw unsupported(`a state source of type '${source.type ?? ''}'`, `${FIELD}/source/@type`);
  const version = backend?.version ?? '2.0';
  const stateDir =
    source?.path ?? join(roots.stateRoot, 'swtpm', guest.uuid, version === '2.0' ? 'tpm2' : 'tpm1.2');
  const run = helperRunDir(roots, guest.uuid);
  const socket = join(run, 'swtpm.sock');
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `swtpm socket path ${socket} is too long for a unix socket`,
      {
        field: 'stateDir',
      },
    );
  const files = {
    stateDir,
    logFile: join(roots.logRoot, 'swtpm', `${guest.name}-swtpm.log`),
    socket,
    pidFile: join(run, 'swtpm.pid'),
  };
  // swtpm splits its option values at commas and has no way to escape one
  for (const [key, path] of Object.entries(files))
    if (path.includes(','))
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `swtpm cannot take a path with a comma: ${path}`, {
        field: key === 'stateDir' && source?.path !== undefined ? `${FIELD}/source/@path` : 'stateDir',
      });
  return files;
}

function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return true;
  }
}

/**
 * swtpm_setup's environment: PATH, and the caller's HOME and XDG_CONFIG_HOME,
 * which is where an unprivileged user's per-user CA and config files live
 * (libvirt's session daemon passes its own environment on the same way);
 * without them it falls back to the passwd entry's home, which a service
 * user may not be able to write.
 */
function setupEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: '/usr/bin:/bin' };
  // root's configuration is the system one (/etc), whatever its HOME says
  if (process.getuid?.() === 0) return env;
  for (const k of ['HOME', 'XDG_CONFIG_HOME'] as const) {
    const v = process.env[k];
    if (v?.startsWith('/')) env[k] = v;
  }
  return env;
}

function run(binary: string, args: string[], signal: AbortSignal | undefined): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      binary,
      args,
      { timeout: SETUP_TIMEOUT_MS, env: setupEnv(), ...(signal ? { signal } : {}) },
      (err, _stdout, stderr) =>
        resolve(err ? `${err.message}${stderr ? `: ${String(stderr).trim()}` : ''}` : undefined),
    );
  });
}

/**
 * Manufactures the TPM state when the guest has none yet (the directory is
 * missing or empty), as libvirt does on first start; a failed setup removes
 * what it made, so the next start tries again from scratch.
 */
export async function ensureSwtpmState(
  tpm: TpmDef,
  files: SwtpmFiles,
  guest: { name: string; uuid: string },
  binaries: SwtpmBinaries,
  signal?: AbortSignal,
): Promise<void> {
  if (!isEmptyDir(files.stateDir)) return;
  mkdirSync(files.stateDir, { recursive: true, mode: 0o700 });
  mkdirSync(join(files.logFile, '..'), { recursive: true, mode: 0o700 });
  const fail = (why: string) => {
    rmSync(files.stateDir, { recursive: true, force: true });
    return new VirError('OPERATION_FAILED', 'qemu', `swtpm_setup could not create the TPM state: ${why}`, {
      field: FIELD,
    });
  };
  // An unprivileged user has no system-wide certificate authority configured; swtpm_setup makes a per-user one.
  if (process.getuid?.() !== 0) {
    const err = await run(binaries.swtpmSetup, ['--create-config-files', 'skip-if-exist'], signal);
    if (err !== undefined) throw fail(err);
  }
  const args = [
    ...(tpm.backend?.version === '1.2' ? [] : ['--tpm2']),
    '--tpm-state',
    files.stateDir,
    '--vmid',
    `${guest.name}:${guest.uuid}`,
    '--logfile',
    files.logFile,
    '--createek',
    '--create-ek-cert',
    '--create-platform-cert',
    '--lock-nvram',
    '--not-overwrite',
  ];
  const err = await run(binaries.swtpmSetup, args, signal);
  if (err !== undefined) throw fail(`${err}${logHint(files.logFile)}`);
}

function logHint(logFile: string): string {
  const tail = readLogTail(logFile, 512).trim().split('\n').slice(-3).join('\n');
  return tail ? `\n${tail}` : '';
}

/** The `swtpm socket` process for this guest: control socket, state dir, log, pid file, gone with QEMU. */
export function swtpmSpec(tpm: TpmDef, files: SwtpmFiles, binaries: SwtpmBinaries): HelperSpec {
  const debug = tpm.backend?.debug;
  return {
    name: 'swtpm',
    argv: [
      binaries.swtpm,
      'socket',
      '--ctrl',
      `type=unixio,path=${files.socket},mode=0600`,
      '--tpmstate',
      `dir=${files.stateDir},mode=0600`,
      '--log',
      debug ? `file=${files.logFile},level=${debug}` : `file=${files.logFile}`,
      '--pid',
      `file=${files.pidFile}`,
      // ends by itself when QEMU closes the control channel, even if nobody is left to stop it
      '--terminate',
      ...(tpm.backend?.version === '1.2' ? [] : ['--tpm2']),
    ],
    logFile: files.logFile,
    socket: files.socket,
    runtimeFiles: [files.socket, files.pidFile],
  };
}

/**
 * Removes a guest's TPM state when its definition goes away, as libvirt does
 * on undefine; `<backend persistent_state='yes'>` keeps it, and a state dir
 * the user named (`<source type='dir'>`) is the user's to remove.
 */
export function removeSwtpmState(roots: RunnerRoots, uuid: string, tpm: TpmDef | undefined): void {
  if (tpm?.backend?.type !== 'emulator' || tpm.backend.persistentState === true) return;
  if (tpm.backend.source !== undefined) return;
  rmSync(join(roots.stateRoot, 'swtpm', uuid), { recursive: true, force: true });
}
