/**
 * What the command line asks a storage driver about a `<disk type='volume'>`
 * and what it is told back (see `CommandLinePaths.resolveVolume`).
 *
 * @module
 */

/** A `<disk type='volume'>`'s source, for the storage driver to resolve. */
export interface VolumeRequest {
  /** The pool's name. */
  pool: string;
  /** The volume's name in the pool. */
  volume: string;
  /** `<source mode>` (iSCSI pools: `host` or `direct`). */
  mode?: string;
  /** Where the source is in the definition, for errors. */
  field: string;
}

/**
 * A storage volume as a disk sees it: a file, a block device or a directory
 * at `path`, or (an iSCSI pool's LUN asked for with `mode='direct'`) a
 * network disk QEMU's own iSCSI initiator reaches.
 */
export type ResolvedVolume = LocalVolume | IscsiDirectVolume;

/** A volume on the host's filesystem or one of its block devices. */
export interface LocalVolume {
  /** The disk's actual type. */
  type: 'file' | 'block' | 'dir';
  /** The volume's path on the host. */
  path: string;
}

/** An iSCSI LUN QEMU logs into itself (`<source mode='direct'>`). */
export interface IscsiDirectVolume {
  /** The disk's actual type: a network disk. */
  type: 'network';
  /** Its protocol. */
  protocol: 'iscsi';
  /** The target's IQN and the LUN, as `<source name>` writes them: `iqn.…/3`. */
  name: string;
  /** The pool's portals. */
  hosts: IscsiPortal[];
  /**
   * The pool's CHAP login. It replaces any `<auth>` of the disk, as in
   * libvirt, where a direct LUN always logs in with its pool's credentials.
   */
  auth?: IscsiLogin;
}

/** One iSCSI portal of a pool. */
export interface IscsiPortal {
  /** Host name or address. */
  name: string;
  /** TCP port (3260 when left out). */
  port?: string;
}

/** A CHAP login: the user, and the libvirt secret holding the password. */
export interface IscsiLogin {
  /** The CHAP user name. */
  username: string;
  /** The secret with the password, by usage or by UUID. */
  secret: {
    /** Always `iscsi`. */
    type: 'iscsi';
    /** The secret's usage name. */
    usage?: string;
    /** The secret's UUID. */
    uuid?: string;
  };
}
