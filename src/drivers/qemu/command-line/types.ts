/**
 * Inputs and output of the QEMU command-line builder.
 *
 * @module
 */

/** Where the per-domain files live and how the monitor is reached. */
export interface CommandLinePaths {
  /** The domain's private directory: HOME and XDG dirs of the QEMU process, master key, VNC socket. */
  domainDir: string;
  /** QMP monitor: a UNIX socket path QEMU listens on, or a descriptor the caller passes (`fd=N`). */
  monitor: { path: string } | { fd: number };
  /** Master key file for `-object secret`; omit to leave the master key out. */
  masterKeyPath?: string;
  /** PATH, USER and LOGNAME for the QEMU process. Defaults: `/usr/bin:/bin`, the given user, or `root`. */
  env?: { PATH?: string; USER?: string; LOGNAME?: string };
  /** Per page size in KiB (`'2048'`), this domain's directory on a hugetlbfs mount. */
  hugepageDirs?: Record<string, string>;
  /** Host NUMA nodes chosen for `placement='auto'` (numad's advice), e.g. `0-3`. */
  autoNodeset?: string;
  /** DRM render node for `egl-headless` when the definition names none (`/dev/dri/renderD128`). */
  renderNode?: string;
  /** Guest D-Bus display socket (`<graphics type='dbus'/>`). */
  dbusSocket?: string;
  /** The settings of qemu.conf libvirt reads for graphics (all off by default). */
  graphicsConfig?: {
    /** `spice_tls`: SPICE may listen with TLS (`tlsPort`). */
    spiceTls?: boolean;
    /** `spice_tls_x509_cert_dir` (default /etc/pki/libvirt-spice). */
    spiceTlsDir?: string;
    /** `spice_password` is set: SPICE keeps ticketing on for guests without a password of their own. */
    spicePassword?: boolean;
  };
  /**
   * The host environment some backends take a value from when the
   * definition names none (PipeWire's `PIPEWIRE_RUNTIME_DIR`,
   * `XDG_RUNTIME_DIR`, `PIPEWIRE_CORE`, ...). Nothing else of it reaches QEMU.
   */
  hostEnv?: Record<string, string>;
  /**
   * Files and sockets of character devices the caller opens for QEMU, as
   * libvirt does: a file (chardev output or log) opened for appending or
   * truncated as `append` says, a UNIX socket bound and listening at
   * `path`. Each returns the descriptor QEMU will inherit. Without it,
   * QEMU opens the paths itself.
   */
  chardevFds?: {
    file(path: string, append: boolean, role: 'source' | 'log'): number;
    unixListen(path: string): number;
  };
}

export interface CommandLine {
  /** The environment QEMU runs with (and only that: no inherited variables). */
  env: Record<string, string>;
  /** The binary, then one argument per element. Never a shell string. */
  argv: string[];
  /**
   * QMP commands to run once QEMU is up, before the guest's CPUs start:
   * what must not be on the command line (VNC/SPICE passwords).
   */
  monitorCommands?: MonitorCommand[];
}

export interface MonitorCommand {
  execute: string;
  arguments: Record<string, unknown>;
}
