/**
 * Where the QEMU driver keeps its files, for `qemu:///system` and
 * `qemu:///session`. Every root can be moved with a connect option
 * (`driverOptions`) or an environment variable, so tests and unprivileged
 * programs never need the system directories.
 *
 * | root    | system                 | session                                   | option / env                          |
 * | ------- | ---------------------- | ----------------------------------------- | ------------------------------------- |
 * | cache   | /var/cache/virtkit/qemu | $XDG_CACHE_HOME/virtkit/qemu             | `cacheDir` / VIRTKIT_QEMU_CACHE_DIR   |
 * | config  | /etc/virtkit/qemu      | $XDG_CONFIG_HOME/virtkit/qemu             | `configDir` / VIRTKIT_QEMU_CONFIG_DIR |
 * | state   | /var/lib/virtkit/qemu  | $XDG_STATE_HOME/virtkit/qemu              | `stateDir` / VIRTKIT_QEMU_STATE_DIR   |
 * | run     | /run/virtkit/qemu      | $XDG_RUNTIME_DIR/virtkit/qemu (or tmp)    | `runDir` / VIRTKIT_QEMU_RUN_DIR       |
 * | log     | /var/log/virtkit/qemu  | $XDG_STATE_HOME/virtkit/qemu/log          | `logDir` / VIRTKIT_QEMU_LOG_DIR       |
 *
 * @module
 */
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirError } from '../../errors.js';

export type QemuMode = 'system' | 'session';

export interface QemuPaths {
  mode: QemuMode;
  /** Probe cache; `null` keeps probed capabilities in memory only. */
  cacheDir: string | null;
  configDir: string;
  stateDir: string;
  runDir: string;
  logDir: string;
}

const KEYS = ['cacheDir', 'configDir', 'stateDir', 'runDir', 'logDir'] as const;
const ENV: Record<(typeof KEYS)[number], string> = {
  cacheDir: 'VIRTKIT_QEMU_CACHE_DIR',
  configDir: 'VIRTKIT_QEMU_CONFIG_DIR',
  stateDir: 'VIRTKIT_QEMU_STATE_DIR',
  runDir: 'VIRTKIT_QEMU_RUN_DIR',
  logDir: 'VIRTKIT_QEMU_LOG_DIR',
};

export function resolveQemuPaths(
  mode: QemuMode,
  options: Readonly<Record<string, unknown>> = {},
  env: NodeJS.ProcessEnv = process.env,
): QemuPaths {
  const defaults: Omit<QemuPaths, 'mode'> =
    mode === 'system'
      ? {
          cacheDir: '/var/cache/virtkit/qemu',
          configDir: '/etc/virtkit/qemu',
          stateDir: '/var/lib/virtkit/qemu',
          runDir: '/run/virtkit/qemu',
          logDir: '/var/log/virtkit/qemu',
        }
      : sessionDefaults(env);
  const out: QemuPaths = { mode, ...defaults };
  for (const key of KEYS) {
    const fromOption = options[key];
    if (fromOption === null && key === 'cacheDir') {
      out.cacheDir = null;
      continue;
    }
    if (fromOption !== undefined) {
      if (typeof fromOption !== 'string' || !fromOption.startsWith('/')) {
        throw new VirError('INVALID_ARG', 'qemu', `driver option '${key}' must be an absolute path`, {
          field: key,
        });
      }
      out[key] = fromOption;
      continue;
    }
    const fromEnv = env[ENV[key]];
    if (fromEnv !== undefined && fromEnv !== '') {
      if (!fromEnv.startsWith('/')) {
        throw new VirError('INVALID_ARG', 'qemu', `${ENV[key]} must be an absolute path`, {
          field: ENV[key],
        });
      }
      out[key] = fromEnv;
    }
  }
  return out;
}

function sessionDefaults(env: NodeJS.ProcessEnv): Omit<QemuPaths, 'mode'> {
  const home = env.HOME?.startsWith('/') ? env.HOME : homedir();
  const xdg = (name: string, fallback: string) => {
    const v = env[name];
    return v?.startsWith('/') ? v : join(home, fallback);
  };
  const state = join(xdg('XDG_STATE_HOME', '.local/state'), 'virtkit/qemu');
  const runtime = env.XDG_RUNTIME_DIR?.startsWith('/')
    ? env.XDG_RUNTIME_DIR
    : join(tmpdir(), `virtkit-${process.getuid?.() ?? 'user'}`);
  return {
    cacheDir: join(xdg('XDG_CACHE_HOME', '.cache'), 'virtkit/qemu'),
    configDir: join(xdg('XDG_CONFIG_HOME', '.config'), 'virtkit/qemu'),
    stateDir: state,
    runDir: join(runtime, 'virtkit/qemu'),
    logDir: join(state, 'log'),
  };
}
