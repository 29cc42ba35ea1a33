/**
 * Inputs and output of the QEMU command-line builder.
 *
 * @module
 */
import type { QemuDriverConfig } from '../driver-config.js';
import type { ResolvedVolume, VolumeRequest } from './volume-types.js';

/** A libvirt secret, by UUID or by usage (`<secret type usage>`). */
export interface SecretRef {
  /** The secret's UUID. */
  uuid?: string;
  /** The `<secret type>`: ceph, iscsi, passphrase, volume, ... */
  type?: string;
  /** The secret's usage name (the volume path, Ceph name, iSCSI target, ...). */
  usage?: string;
}

/**
 * What is needed to hand secrets to QEMU without writing them in clear: the
 * master key (the bytes of the `masterKeyPath` file), each secret's value,
 * and a source of initialisation vectors (default: 16 random bytes).
 */
export interface CommandLineSecrets {
  /** The domain's master key: the key every `-object secret` value is encrypted with. */
  masterKey: Uint8Array;
  /** The value of a secret the definition refers to, or undefined when there is none. */
  value(ref: SecretRef): Uint8Array | undefined;
  /** A fresh initialisation vector per secret (random by default; fixed in tests). */
  iv?: () => Uint8Array;
}

/** Where the per-domain files live and how the monitor is reached. */
export interface CommandLinePaths {
  /** The domain's private directory: HOME and XDG dirs of the QEMU process, master key, VNC socket. */
  domainDir: string;
  /** QMP monitor: a UNIX socket path QEMU listens on, or a descriptor the caller passes (`fd=N`). */
  monitor:
    | {
        /** The UNIX socket path QEMU listens on. */
        path: string;
      }
    | {
        /** A descriptor of a listening socket the caller passes to QEMU. */
        fd: number;
      };
  /**
   * `-incoming` for a guest that receives a live migration: `defer` (the
   * address is given later with `migrate-incoming`, as libvirt does) or a URI.
   */
  incoming?: string;
  /** Master key file for `-object secret`; omit to leave the master key out. */
  masterKeyPath?: string;
  /** PATH, USER and LOGNAME for the QEMU process. Defaults: `/usr/bin:/bin`, the given user, or `root`. */
  /** The few host variables passed on to QEMU's otherwise closed environment. */
  env?: {
    /** Where QEMU's helpers are looked up. */
    PATH?: string;
    /** The user QEMU runs as. */
    USER?: string;
    /** The login name QEMU runs as. */
    LOGNAME?: string;
  };
  /** Per page size in KiB (`'2048'`), this domain's directory on a hugetlbfs mount. */
  hugepageDirs?: Record<string, string>;
  /** This domain's directory for file-backed guest RAM (libvirt: `/var/lib/libvirt/qemu/ram/<id>-<name>`). */
  memoryBackingDir?: string;
  /** Host NUMA nodes chosen for `placement='auto'` (numad's advice), e.g. `0-3`. */
  autoNodeset?: string;
  /**
   * The host NUMA node of a host CPU, when the host has NUMA: the threads that
   * preallocate guest memory then run only on the nodes of the emulator's CPUs.
   */
  hostNodeOfCpu?: (cpu: number) => number | undefined;
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
  nbdTls?: {
    /** The directory with the client's certificates. */
    dir: string;
    /** Whether the server's certificate is verified. */
    verifyPeer: boolean;
    /** The secret that unlocks the private key, when it is encrypted. */
    secretUuid?: string;
  };
  /**
   * qemu.conf's chardev TLS settings: `enabled` (chardev_tls) for TCP
   * backends that do not say, the certificate dir (default
   * /etc/pki/libvirt-chardev), whether a listening backend verifies
   * clients (default true), and the secret holding the key's password.
   */
  chardevTls?: {
    /** Whether TCP character devices use TLS unless they say otherwise. */
    enabled?: boolean;
    /** The directory with the certificates. */
    dir?: string;
    /** Whether the peer's certificate is verified. */
    verifyPeer?: boolean;
    /** The secret that unlocks the private key, when it is encrypted. */
    secretUuid?: string;
  };
  /** Master key and secret values, for disk credentials and encryption keys. */
  secrets?: CommandLineSecrets;
  /** Guest D-Bus display socket (`<graphics type='dbus'/>`). */
  dbusSocket?: string;
  /**
   * The host side of the guest's NICs, set up before QEMU starts. Without
   * it, an interface that needs one (ethernet, bridge, network, direct,
   * vdpa) is refused rather than started without its link.
   */
  netHost?: NetHost;
  /**
   * The host's SCSI generic device (`/dev/sg3`) of a LUN on a host adapter
   * (`scsi_host0`, bus, target, unit), for `<hostdev type='scsi'>`. Without it such a
   * host device is refused.
   */
  scsiHostDevice?: (lun: { adapter: string; bus: number; target: number; unit: number }) => string;
  /** A descriptor open on `/dev/vhost-scsi` for the vhost-scsi target `wwpn` (`<hostdev type='scsi_host'>`). */
  vhostScsiFd?: (wwpn: string) => number;
  /**
   * The socket of the guest's own qemu-pr-helper, started by the host, for disks with
   * `<reservations managed='yes'>` (libvirt: `<domainDir>/pr-helper0.sock`).
   */
  prHelperSocket?: string;
  /** The control socket of the swtpm started for an emulated TPM; without it such a TPM is refused. */
  tpmEmulatorSocket?: string;
  /**
   * Opens a host TPM for `<backend type='passthrough'>`: the device (`/dev/tpm0`) and its
   * cancel file (`/sys/class/tpm/tpm0/device/cancel`, or the `misc` class one on older
   * kernels), read-write. Returns both descriptors, which QEMU inherits.
   */
  tpmPassthrough?: (devicePath: string) => {
    /** A descriptor open on the host TPM device. */
    device: number;
    /** A descriptor open on the TPM's cancel file. */
    cancel: number;
  };
  /**
   * The sockets of the virtiofsd daemons started for the guest's virtiofs
   * shares, by the share's 0-based index among the filesystems; a share
   * without one uses `virtiofsSocketPath`.
   */
  virtiofsSockets?: Readonly<Record<number, string>>;
  /**
   * The socket of the passt process serving `<interface type='user'><backend
   * type='passt'>`, given the interface's alias (`net0`) and its 0-based
   * index among the interfaces. Without it such an interface is refused:
   * nobody would be listening.
   */
  passtSocket?: PasstSocketFn;
  /**
   * Whether the caller runs the RDP server (libvirt's qemu-rdp) that serves
   * `<graphics type='rdp'>` from QEMU's D-Bus display. QEMU gets no option of
   * its own for it; without a server such graphics are refused.
   */
  rdpServer?: boolean;
  /**
   * What a `<disk type='volume'>`'s pool and volume are on this host (the
   * storage driver's answer, looked up before the build): its actual type and
   * path. Without it such a disk is refused with `CONFIG_UNSUPPORTED`.
   */
  resolveVolume?: (disk: VolumeRequest) => ResolvedVolume;
  /**
   * The tap device created on the host for a `<interface type='bridge'>`
   * and already attached to its bridge, by the interface's 0-based index;
   * QEMU opens it by name. Used only without a {@link netHost} (which passes
   * descriptors instead); without either such an interface is refused.
   */
  bridgeTap?: (index: number) => string | undefined;
  /**
   * What a virtual network resolves to when there is no {@link netHost}
   * (the driver's own networks, whose ports were taken before the build):
   * the bridge the interface's tap ({@link bridgeTap}) joins.
   */
  networks?: Pick<NetHost, 'resolveNetwork'>;
  /**
   * For an unprivileged start: the qemu-bridge-helper QEMU runs itself for a
   * bridge interface, by the interface's 0-based index (`-netdev
   * bridge,br=,helper=`), when no tap was made for it.
   */
  bridgeHelper?: (index: number) => string | undefined;
  /**
   * The clock a `<clock offset='variable'>` guest's RTC is set from: `now` in seconds since the
   * epoch and the host's `localOffset` from UTC in seconds (east positive). Default: the real ones.
   */
  clock?: {
    /** The current time, ms since the epoch (for `<clock offset='variable'>` and RTC bases). */
    now?: number;
    /** The host's local time offset from UTC, in seconds. */
    localOffset?: number;
  };
  /** qemu.conf's settings (graphics listen, TLS, SASL, passwords); libvirt's defaults for what is not given. */
  config?: Partial<QemuDriverConfig>;
  /**
   * A free host port for a SPICE display's `autoport` (libvirt's remote display range, 5900
   * up); `tls` says which of the two it is for. Without it an automatic port is refused.
   */
  allocateDisplayPort?: (tls: boolean) => number;
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
  /**
   * Where a `unix` virtio channel without a path listens (libvirt:
   * `/var/run/libvirt/qemu/channel/<id>-<name>`), as `<dir>/<target name>`
   * or `<dir>/vioser-CC-BB-PP.sock`. Default: `domainDir`.
   */
  channelDir?: string;
  /** Opens the host files and sockets of character devices and passes them to QEMU as descriptors. */
  chardevFds?: {
    /** A descriptor open on a chardev's file (or its log), appending when asked. */
    file(path: string, append: boolean, role: 'source' | 'log'): number;
    /** A descriptor of a listening UNIX socket at the path. */
    unixListen(path: string): number;
  };
  /**
   * The host side of a `<vsock>`: a descriptor open on `/dev/vhost-vsock`
   * with the guest's CID set on it (`cid`, or with `auto` the first free
   * one the host found). Returns the descriptor and the CID in use.
   * Without it a vsock is refused.
   */
  vhostVsock?: (req: {
    /** The CID the definition asks for. */
    cid?: number;
    /** Whether any free CID will do. */
    auto: boolean;
  }) => {
    /** The descriptor open on `/dev/vhost-vsock`. */
    fd: number;
    /** The CID in use. */
    cid: number;
  };
  /**
   * The descriptor of the socket a `<video>` with a vhost-user backend is
   * reached through (the caller starts the vhost-user-gpu process for the
   * video `alias` and keeps the other end). The backend renders, so it gets the
   * video's `<acceleration>`: `accel3d` (virgl) and `renderNode` (the DRM render
   * node it opens), as libvirt starts it (`--virgl`, `--render-node`).
   * Without it such a video is refused.
   */
  vhostUserGpuFd?: (alias: string, render: { accel3d?: boolean; renderNode?: string }) => number;
}

/** A NIC that needs a descriptor from the host, by its device alias (`net0`). */
export interface NetHostRequest {
  /** The interface's device alias (`net0`). */
  alias: string;
  /** Queue pairs: one descriptor per queue. */
  queues: number;
}

/**
 * What the host did for the guest's NICs: taps it created or plugged into a
 * bridge, vhost-net and vDPA descriptors it opened, and what a virtual
 * network resolves to. Whoever provides this also applies the host-side
 * settings of each interface (bandwidth, VLAN, virtual port, packet filter,
 * coalescing): the command line cannot carry them.
 */
export interface NetHost {
  /**
   * Descriptors of a tap of its own (`ethernet`) or a tap plugged into `bridge`;
   * `device` is the tun device to open instead of `/dev/net/tun` (`<backend tap>`).
   */
  tapFds(
    req: NetHostRequest & { kind: 'ethernet' | 'bridge'; bridge?: string; ifname?: string; device?: string },
  ): number[];
  /**
   * vhost-net descriptors, one per queue; an empty list leaves the data path in QEMU.
   * `device` is the device to open instead of `/dev/vhost-net` (`<backend vhost>`).
   */
  vhostFds(req: NetHostRequest & { device?: string }): number[];
  /** A descriptor open on the vDPA character device `path`. */
  vdpaFd(req: NetHostRequest & { path: string }): number;
  /**
   * The connection `<source network='NAME'>` stands for on this host: a port of the
   * network made for the NIC's `mac` (a network of host VFs sets that MAC on the VF).
   */
  resolveNetwork(name: string, port: { mac?: string }): NetworkConnection;
}

export type {
  IscsiDirectVolume,
  IscsiLogin,
  IscsiPortal,
  LocalVolume,
  ResolvedVolume,
  VolumeRequest,
} from './volume-types.js';

/** What a virtual network gives a guest NIC. */
export type NetworkConnection =
  | {
      /** A bridge the tap joins. */
      type: 'bridge';
      /** The bridge's name. */
      bridge: string;
    }
  /** A PCI function of the network's pool given to the guest (`pci`: its host address; without it, refused). */
  | {
      /** A host PCI function passed to the guest. */
      type: 'hostdev';
      /** Its host address. */
      pci?: {
        /** PCI domain. */
        domain: number;
        /** PCI bus. */
        bus: number;
        /** PCI slot. */
        slot: number;
        /** PCI function. */
        function: number;
      };
    }
  | {
      /** macvtap on a host device. */
      type: 'direct';
    };

/** What `buildCommandLine` returns: the environment and argv to spawn QEMU with. */
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
  /**
   * vCPUs to hot-plug once QEMU is up, in plug order (`<vcpus>` entries both
   * enabled and hotpluggable): `-smp` starts only the others.
   */
  hotplugVcpus?: number[];
  /**
   * What the RDP server of each `<graphics type='rdp'>` is to serve (only
   * with {@link CommandLinePaths.rdpServer}): QEMU itself gets no option for
   * it, the server attaches to the guest's D-Bus display.
   */
  rdpServers?: RdpServerSettings[];
  /**
   * libvirt's taint flags the definition earns (`custom-argv` for `<qemu:commandline>`,
   * `custom-hypervisor-feature` for `<qemu:capabilities>`, `custom-device` for
   * `<qemu:override>`): the domain log says so when the guest starts.
   */
  taints?: string[];
}

/** One `<graphics type='rdp'>`, for the RDP server that serves it from QEMU's D-Bus display. */
export interface RdpServerSettings {
  /** Where the graphics is in the definition. */
  field: string;
  /** The TCP port; 0 with `autoport`, when the server picks one. */
  port: number;
  /** Whether the server picks the port. */
  autoport: boolean;
  /** The address to listen on, when the definition gives one. */
  listen?: string;
  /** The user name the server asks for. */
  username?: string;
  /** The password the server asks for: the caller's to keep off logs and command lines. */
  passwd?: string;
}

/** A QMP command to run once QEMU is up, before the guest resumes. */
export interface MonitorCommand {
  /** The QMP command name. */
  execute: string;
  /** Its arguments. */
  arguments: Record<string, unknown>;
}

/** Where the passt of one interface listens (its alias, its 0-based index among the interfaces). */
export type PasstSocketFn = (alias: string, index: number) => string | undefined;
