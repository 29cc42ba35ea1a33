/**
 * Inputs and output of the QEMU command-line builder.
 *
 * @module
 */

/** A libvirt secret, by UUID or by usage (`<secret type usage>`). */
export interface SecretRef {
  uuid?: string;
  /** The `<secret type>`: ceph, iscsi, passphrase, volume, ... */
  type?: string;
  usage?: string;
}

/**
 * What is needed to hand secrets to QEMU without writing them in clear: the
 * master key (the bytes of the `masterKeyPath` file), each secret's value,
 * and a source of initialisation vectors (default: 16 random bytes).
 */
export interface CommandLineSecrets {
  masterKey: Uint8Array;
  value(ref: SecretRef): Uint8Array | undefined;
  iv?: () => Uint8Array;
}

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
  /**
   * Whether a host block device is an optical drive (a raw `<disk type='block'
   * device='cdrom'>` on one is opened as `host_cdrom`). Default: the usual
   * Linux names, `/dev/cdrom*` and `/dev/sr*`.
   */
  isHostCdrom?: (path: string) => boolean;
  /**
   * Client certificates for NBD disks with `tls='yes'` (qemu.conf's
   * `nbd_tls_x509_*`): the directory, whether the server's certificate is
   * verified, and the secret holding the client key's password, if any.
   */
  nbdTls?: { dir: string; verifyPeer: boolean; secretUuid?: string };
  /** Master key and secret values, for disk credentials and encryption keys. */
  secrets?: CommandLineSecrets;
  /** Guest D-Bus display socket (`<graphics type='dbus'/>`). */
  dbusSocket?: string;
}

export interface CommandLine {
  /** The environment QEMU runs with (and only that: no inherited variables). */
  env: Record<string, string>;
  /** The binary, then one argument per element. Never a shell string. */
  argv: string[];
}
