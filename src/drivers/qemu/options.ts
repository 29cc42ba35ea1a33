/**
 * What `connect('qemu:///…', { driverOptions })` accepts. Each root also has
 * an environment variable (see `paths.ts`); the option wins.
 *
 * @module
 */

/**
 * The `driverOptions` of `qemu:///session` and `qemu:///system`: roots, emulators, KVM, the caps
 * cache and the driver's configuration.
 */
export type QemuDriverOptions = {
  /** Absolute paths of the QEMU binaries to offer; default: those found on the host. */
  emulators?: readonly string[];
  /** `false`: never use KVM, even where `/dev/kvm` is usable. */
  kvm?: boolean;
  /** Probe cache; `null` keeps probed capabilities in memory only. */
  cacheDir?: string | null;
  /** Where persistent definitions are written. */
  configDir?: string;
  /** Where the state of running guests is kept. */
  stateDir?: string;
  /** Monitor sockets and status files of running guests. */
  runDir?: string;
  /** One log file per guest. */
  logDir?: string;
  /** The swtpm binary for emulated TPMs; default: found on PATH. */
  swtpm?: string;
  /** The swtpm_setup binary that manufactures a guest's TPM state; default: found on PATH. */
  swtpmSetup?: string;
  /** Milliseconds each QMP command may take before it fails with `OPERATION_TIMEOUT`. Default 30000. */
  qmpTimeout?: number;
  /**
   * Milliseconds a started QEMU has to open its monitor before the start
   * fails. Default 10000; one start can say otherwise (`start({ timeout })`).
   */
  startTimeout?: number;
  /**
   * Milliseconds QEMU has to end after the driver stops it (SIGTERM on
   * `destroy()`, or after the guest powered off) before SIGKILL. Default 5000.
   */
  shutdownTimeout?: number;
  /**
   * More directories (absolute paths) a `qemu:///session` storage pool may use, besides the
   * user's home, the XDG base directories and the session's roots; a pool elsewhere is refused
   * with `OPERATION_DENIED`. `qemu:///system` pools may use any directory.
   */
  storagePoolRoots?: readonly string[];
  /** qemu.conf's `bridge_helper` for bridges joined as a user: a name or a path; default `qemu-bridge-helper`. */
  bridgeHelper?: string;
  /** Where device hotplug reads the host's devices (absolute path); default `/sys`. */
  sysRoot?: string;
  /** The vhost-vsock device a hot-plugged `<vsock>` needs (absolute path); default `/dev/vhost-vsock`. */
  vhostVsock?: string;
};
