/**
 * virtiofsd, the daemon behind `<filesystem><driver type='virtiofs'/>`: one
 * per share, listening on the vhost-user socket QEMU's `vhost-user-fs-pci`
 * connects to, serving the share's source directory.
 *
 * The binary is the share's `<binary path>`, else the first vhost-user
 * descriptor of type `fs` (as libvirt finds it: `/usr/share/qemu/vhost-user`,
 * `/etc/qemu/vhost-user`, and for a user `$XDG_CONFIG_HOME/qemu/vhost-user`,
 * a later directory's file replacing an earlier one of the same name, in
 * file name order). Two generations of virtiofsd take their options
 * differently: the Rust one (`separate-options` in `--print-capabilities`)
 * takes `--shared-dir`, `--cache`, ...; the C one of QEMU up to 7.2 takes
 * `-o source=...,cache=...`. What the binary found cannot do is refused,
 * naming the field.
 *
 * Files: log `<logRoot>/qemu/<name>-fs<N>-virtiofsd.log`; socket
 * `<stateRoot>/qemu/helpers-<uuid>/fs<N>-fs.sock`, removed when it stops.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FilesystemDef } from '../../../conf/domain/devices/index.js';
import { VirError } from '../../../errors.js';
import type { XmlElement } from '../../../xml/tree.js';
import type { HelperSpec } from './guest-helper.js';
import { MAX_SOCKET_PATH, type RunnerRoots } from './runner-command.js';
import { helperRunDir } from './swtpm.js';

/** What `--print-capabilities` says the daemon can do. */
export interface VirtiofsdFeatures {
  /** The Rust daemon's `--shared-dir`/`--cache`/`--sandbox` options instead of `-o`. */
  readonly separateOptions: boolean;
}

/** The directories holding vhost-user descriptors, lowest priority first. */
export function vhostUserDirs(
  env: NodeJS.ProcessEnv = process.env,
  root = process.getuid?.() === 0,
): string[] {
  const dirs = ['/usr/share/qemu/vhost-user', '/etc/qemu/vhost-user'];
  if (!root) {
    const config = env.XDG_CONFIG_HOME ?? (env.HOME ? join(env.HOME, '.config') : undefined);
    if (config) dirs.push(join(config, 'qemu', 'vhost-user'));
  }
  return dirs;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The binary of the first usable `fs` descriptor in `dirs`, or undefined. */
export function findVirtiofsd(dirs: readonly string[] = vhostUserDirs()): string | undefined {
  const byName = new Map<string, string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) if (n.endsWith('.json')) byName.set(n, join(dir, n));
  }
  for (const name of [...byName.keys()].sort()) {
    try {
      const d = JSON.parse(readFileSync(byName.get(name) as string, 'utf8')) as unknown;
      if (typeof d !== 'object' || d === null) continue;
      const { type, binary } = d as { type?: unknown; binary?: unknown };
      if (type === 'fs' && typeof binary === 'string' && binary.startsWith('/') && isExecutable(binary))
        return binary;
    } catch {
      // an unreadable descriptor is skipped, as libvirt skips it
    }
  }
  return undefined;
}

/** Asks the daemon what it supports; a daemon that cannot say is taken for the C one. */
export function virtiofsdFeatures(binary: string, signal?: AbortSignal): Promise<VirtiofsdFeatures> {
  return new Promise((resolve) => {
    execFile(
      binary,
      ['--print-capabilities'],
      { timeout: 10_000, env: { PATH: '/usr/bin:/bin' }, ...(signal ? { signal } : {}) },
      (err, stdout) => {
        let features: unknown;
        try {
          features = err ? undefined : (JSON.parse(String(stdout)) as { features?: unknown }).features;
        } catch {
          features = undefined;
        }
        resolve({ separateOptions: Array.isArray(features) && features.includes('separate-options') });
      },
    );
  });
}

export interface VirtiofsdFiles {
  readonly socket: string;
  readonly logFile: string;
}

export function virtiofsdFiles(
  roots: RunnerRoots,
  guest: { name: string; uuid: string },
  index: number,
): VirtiofsdFiles {
  const socket = join(helperRunDir(roots, guest.uuid), `fs${index}-fs.sock`);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `virtiofsd socket path ${socket} is too long`, {
      field: 'stateDir',
    });
  return { socket, logFile: join(roots.logRoot, 'qemu', `${guest.name}-fs${index}-virtiofsd.log`) };
}

/** The settings of a share's `<binary>` element, checked. */
interface BinarySettings {
  path?: string;
  xattr?: boolean;
  cache?: string;
  sandbox?: string;
  posixLock?: boolean;
  flock?: boolean;
  threadPool?: number;
  openFiles?: number;
}

const ON_OFF: Record<string, boolean> = { on: true, off: false };

/** Reads `<binary>`; anything in it virtkit would not pass on is refused. */
export function binarySettings(el: XmlElement | undefined, field: string): BinarySettings {
  const out: BinarySettings = {};
  if (!el) return out;
  const bad = (what: string, at: string): never => {
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}/binary: ${what}`, {
      field: `${field}/binary${at}`,
    });
  };
  const onOff = (v: string, at: string): boolean => ON_OFF[v] ?? bad(`'${v}' is neither on nor off`, at);
  const count = (v: string, at: string): number =>
    /^\d+$/.test(v) ? Number(v) : bad(`'${v}' is not a count`, at);
  for (const a of el.attrs) {
    if (a.name === 'path') {
      if (!a.value.startsWith('/')) bad('the path must be absolute', '/@path');
      out.path = a.value;
    } else if (a.name === 'xattr') out.xattr = onOff(a.value, '/@xattr');
    else bad(`attribute '${a.name}' is not known`, `/@${a.name}`);
  }
  for (const c of el.children) {
    if (c.type !== 'element') continue;
    const at = (n: string) => c.attrs.find((a) => a.name === n)?.value;
    for (const a of c.attrs) {
      const known: Record<string, readonly string[]> = {
        cache: ['mode'],
        sandbox: ['mode'],
        lock: ['posix', 'flock'],
        thread_pool: ['size'],
        openfiles: ['max'],
      };
      if (!(known[c.name] ?? []).includes(a.name))
        bad(`<${c.name} ${a.name}> is not known`, `/${c.name}/@${a.name}`);
    }
    const v = (n: string) => at(n) ?? '';
    if (c.name === 'cache') {
      const m = v('mode');
      if (m !== 'none' && m !== 'always') bad(`cache mode '${m}' is not known`, '/cache/@mode');
      out.cache = m;
    } else if (c.name === 'sandbox') {
      const m = v('mode');
      if (m !== 'namespace' && m !== 'chroot') bad(`sandbox mode '${m}' is not known`, '/sandbox/@mode');
      out.sandbox = m;
    } else if (c.name === 'lock') {
      if (at('posix') !== undefined) out.posixLock = onOff(v('posix'), '/lock/@posix');
      if (at('flock') !== undefined) out.flock = onOff(v('flock'), '/lock/@flock');
    } else if (c.name === 'thread_pool') out.threadPool = count(v('size'), '/thread_pool/@size');
    else if (c.name === 'openfiles') out.openFiles = count(v('max'), '/openfiles/@max');
    else bad(`<${c.name}> is not known`, `/${c.name}`);
  }
  return out;
}

/**
 * The daemon's argv for share `fs` (at `field`), in the option style of the
 * binary's generation; what that generation has no option for is refused.
 */
export function virtiofsdSpec(
  fs: FilesystemDef,
  field: string,
  binary: string,
  features: VirtiofsdFeatures,
  files: VirtiofsdFiles,
): HelperSpec {
  const s = binarySettings(fs.binary, field);
  const dir = fs.source?.dir ?? '';
  const refuse = (what: string, at: string): never => {
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: ${what} is not supported by ${binary}`, {
      field: `${field}${at}`,
    });
  };
  const argv = [binary, `--socket-path=${files.socket}`];
  if (features.separateOptions) {
    argv.push('--shared-dir', dir);
    // the Rust daemon calls libvirt's 'none' cache mode 'never'
    if (s.cache !== undefined) argv.push('--cache', s.cache === 'none' ? 'never' : s.cache);
    if (s.sandbox !== undefined) argv.push('--sandbox', s.sandbox);
    if (s.xattr === true) argv.push('--xattr');
    if (s.posixLock !== undefined || s.flock !== undefined) refuse('<lock>', '/binary/lock');
  } else {
    // -o splits at commas and has no escape the C daemon understands
    if (dir.includes(',')) refuse('a source dir with a comma', '/source/@dir');
    const o = [`source=${dir}`];
    if (s.cache !== undefined) o.push(`cache=${s.cache}`);
    if (s.sandbox !== undefined) o.push(`sandbox=${s.sandbox}`);
    if (s.xattr !== undefined) o.push(s.xattr ? 'xattr' : 'no_xattr');
    if (s.flock !== undefined) o.push(s.flock ? 'flock' : 'no_flock');
    if (s.posixLock !== undefined) o.push(s.posixLock ? 'posix_lock' : 'no_posix_lock');
    argv.push('-o', o.join(','));
  }
  if (s.threadPool !== undefined) argv.push(`--thread-pool-size=${s.threadPool}`);
  if (s.openFiles !== undefined) argv.push(`--rlimit-nofile=${s.openFiles}`);
  // the Rust daemon can map IDs (--uid-map), but virtkit does not read <idmap> yet
  if (fs.idmap !== undefined)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: <idmap> for virtiofsd is not supported yet`, {
      field: `${field}/idmap`,
    });
  if (fs.readonly !== undefined) {
    if (!features.separateOptions) refuse('a read-only share', '/readonly');
    argv.push('--readonly');
  }
  return {
    name: 'virtiofsd',
    argv,
    logFile: files.logFile,
    socket: files.socket,
    runtimeFiles: [files.socket],
  };
}
