/**
 * The host side of a guest NIC: the `-netdev` of each `<interface>` type,
 * and what must come before it (the vhost-user chardev, the vDPA
 * descriptor set).
 *
 * Reads the interface's type, source, local end, script, target,
 * backend, tune/sndbuf and driver queues. Descriptors and virtual networks
 * come from the caller's {@link NetHost}; no host networking is set up here.
 *
 * @module
 */
import type { InterfaceDef } from '../../../conf/domain/devices/index.js';
import { isVirtioNicModel } from '../../../conf/domain/devices/index.js';
import { VirError } from '../../../errors.js';
import type { ArgvBuilder } from './argv-builder.js';
import type { Props } from './device-props.js';
import { checkValue, optValue } from './escape.js';
import type { NetHost } from './types.js';

/** What `<source network>` and the interface's own type say the host side is. */
export type ActualType = InterfaceDef['type'];

function unsupported(message: string, field: string): VirError {
  return new VirError('CONFIG_UNSUPPORTED', 'qemu', message, { field });
}

/** The interface's actual type, and the bridge a virtual network plugs it into. */
export function actualConnection(
  n: InterfaceDef,
  host: Pick<NetHost, 'resolveNetwork'> | undefined,
  field: string,
): { type: ActualType; bridge?: string | undefined } {
  if (n.type !== 'network') return { type: n.type, bridge: n.source?.bridge };
  const name = n.source?.network;
  if (name === undefined)
    throw new VirError('XML_DETAIL', 'qemu', 'network interface without a source network', {
      field: `${field}/source/@network`,
    });
  if (!host)
    throw unsupported(
      `virtual network '${name}' needs a network driver to resolve it, and this command line has none (the QEMU driver's networks resolve it at start; hot-plugging such an interface is not supported yet)`,
      `${field}/source/@network`,
    );
  const c = host.resolveNetwork(name, portRequest(n));
  if (c.type !== 'bridge')
    throw unsupported(
      `virtual network '${name}' gives a '${c.type}' connection, which is not supported yet`,
      `${field}/source/@network`,
    );
  return { type: 'bridge', bridge: c.bridge };
}

/** The host PCI function a `type='network'` interface gets when its network hands out host devices. */
export function networkHostdev(
  n: InterfaceDef,
  host: Pick<NetHost, 'resolveNetwork'> | undefined,
): { domain: number; bus: number; slot: number; function: number } | undefined {
  if (n.type !== 'network' || n.source?.network === undefined || !host) return undefined;
  const c = host.resolveNetwork(n.source.network, portRequest(n));
  return c.type === 'hostdev' ? c.pci : undefined;
}

/** The network port is made for the NIC's MAC (a network of host VFs sets it on the VF it gives). */
function portRequest(n: InterfaceDef): { mac?: string } {
  return n.mac?.address !== undefined ? { mac: n.mac.address } : {};
}

/** Socket address `host:port` of the socket types (an empty host means any). */
function socketAddr(address: string | undefined, port: string | undefined, field: string): string {
  if (port === undefined || !/^\d+$/.test(port) || Number(port) > 65535)
    throw new VirError('XML_DETAIL', 'qemu', `port '${port ?? ''}' is not a TCP/UDP port`, {
      field: `${field}/@port`,
    });
  // QEMU splits host and port at the last colon; the host part must not add one of its own.
  if (address !== undefined && !/^[0-9A-Za-z.\-_]*$/.test(address))
    throw new VirError('XML_DETAIL', 'qemu', `'${address}' is not a host name or IPv4 address`, {
      field: `${field}/@address`,
    });
  return `${address ?? ''}:${Number(port)}`;
}

/** What was started on the host for one NIC before QEMU: passt's socket, a tap on its bridge. */
export interface StartedForNic {
  passtSocket?: () => string | undefined;
  tap?: () => string | undefined;
  /** The qemu-bridge-helper QEMU runs for the interface (unprivileged), when there is no tap. */
  bridgeHelper?: () => string | undefined;
}

/**
 * A tap created and attached to its bridge before QEMU, which QEMU opens by
 * name with no scripts. QEMU would open vhost-net itself here, which
 * virtkit does not arrange, so an explicit vhost driver is refused; as
 * libvirt does when vhost-net is missing, virtio NICs use QEMU's own.
 */
function namedTapProps(n: InterfaceDef, ifname: string, field: string): Props {
  if (n.driver?.name === 'vhost')
    throw unsupported(
      'the vhost driver on a tap QEMU opens by name is not supported yet',
      `${field}/driver/@name`,
    );
  if ((n.driver?.queues ?? 1) > 1)
    throw unsupported(
      'several queues on a tap QEMU opens by name are not supported yet',
      `${field}/driver/@queues`,
    );
  const p: Props = {
    type: 'tap',
    ifname: checkValue(ifname, `${field}/target/@dev`),
    script: 'no',
    downscript: 'no',
  };
  if (n.tune?.sndbuf !== undefined) p.sndbuf = n.tune.sndbuf;
  return p;
}

/**
 * A tap QEMU gets from qemu-bridge-helper itself (`-netdev bridge`): the
 * setuid helper creates it and joins it to `bridge`, as an unprivileged user
 * cannot. What QEMU does not let such a tap take is refused, as for a named tap.
 */
/** How qemu-bridge-helper names the taps it makes (the kernel's `tap%d`). */
export const HELPER_TAP_NAME = /^tap\d+$/;

function bridgeHelperProps(n: InterfaceDef, bridge: string, helper: string, field: string): Props {
  if (n.driver?.name === 'vhost')
    throw unsupported(
      'the vhost driver on a tap made by qemu-bridge-helper is not supported yet',
      `${field}/driver/@name`,
    );
  if ((n.driver?.queues ?? 1) > 1)
    throw unsupported(
      'several queues on a tap made by qemu-bridge-helper are not supported yet',
      `${field}/driver/@queues`,
    );
  if (n.tune?.sndbuf !== undefined)
    throw unsupported('sndbuf on a tap made by qemu-bridge-helper is not supported', `${field}/tune/sndbuf`);
  // the helper's own names (`tapN`) come back in a live definition (a restore, a migration, a
  // hot-plug beside it): the tap is made anew and its name read back, as libvirt treats `vnetN`
  if (n.target?.dev !== undefined && !HELPER_TAP_NAME.test(n.target.dev))
    throw unsupported(
      'a tap name for qemu-bridge-helper, which names its taps itself',
      `${field}/target/@dev`,
    );
  if (n.mtu?.size !== undefined)
    throw unsupported('an MTU on a tap made by qemu-bridge-helper', `${field}/mtu/@size`);
  return {
    type: 'bridge',
    br: checkValue(bridge, `${field}/source/@bridge`),
    helper: checkValue(helper, `${field}/source/@bridge`),
  };
}

/** How long QEMU waits before it reconnects to a passt that went away (libvirt's fixed 5 s). */
const PASST_RECONNECT_S = 5;

/** The socket passt listens on for this NIC, or the refusal when nobody started passt. */
function passtSocketOrRefuse(passtSocket: (() => string | undefined) | undefined, field: string): string {
  const path = passtSocket?.();
  if (path === undefined)
    throw unsupported(
      'the passt backend needs the passt process started for the interface, which this caller does not start',
      `${field}/backend/@type`,
    );
  return path;
}

/** The client socket's reconnect option by QEMU version: 9.2 renamed `reconnect` (seconds) to `reconnect-ms`. */
function reconnectOption(b: ArgvBuilder): { name: 'reconnect-ms' | 'reconnect'; value: number } {
  return b.qemuVersion >= 9_002_000
    ? { name: 'reconnect-ms', value: PASST_RECONNECT_S * 1000 }
    : { name: 'reconnect', value: PASST_RECONNECT_S };
}

/**
 * A passt-backed user interface: QEMU connects as a client to the stream
 * socket passt listens on, and reconnects when that QEMU can (8.0 added
 * `reconnect` to the stream netdev).
 */
function passtProps(
  b: ArgvBuilder,
  field: string,
  passtSocket: (() => string | undefined) | undefined,
): Props {
  const path = passtSocketOrRefuse(passtSocket, field);
  const p: Props = {
    type: 'stream',
    addr: { type: 'unix', path: checkValue(path, `${field}/backend`) },
    server: false,
  };
  if (b.qemuVersion >= 8_000_000) {
    const reconnect = reconnectOption(b);
    p[reconnect.name] = reconnect.value;
  }
  return p;
}

/** The vhost-user netdev on the chardev `char<alias>` written just before it. */
function vhostUserNetdev(alias: string, queues: number): Props {
  const p: Props = { type: 'vhost-user', chardev: `char${alias}` };
  if (queues > 1) p.queues = queues;
  return p;
}

/**
 * vhost-user served by passt: passt listens on the socket and QEMU connects
 * as a client that keeps reconnecting, so a restarted passt picks the NIC
 * up again. `<source dev>` here is passt's outbound interface, not a socket.
 */
function passtVhostUserProps(
  b: ArgvBuilder,
  alias: string,
  queues: number,
  field: string,
  passtSocket: (() => string | undefined) | undefined,
): Props {
  const path = passtSocketOrRefuse(passtSocket, field);
  const reconnect = reconnectOption(b);
  b.add(
    '-chardev',
    `socket,id=char${alias},path=${optValue(path, `${field}/backend`)},${reconnect.name}=${reconnect.value}`,
  );
  return vhostUserNetdev(alias, queues);
}

/**
 * Writes whatever the netdev needs first and returns its properties
 * (without `id`, which the caller adds last as libvirt does).
 */
export function netdevProps(
  b: ArgvBuilder,
  n: InterfaceDef,
  alias: string,
  actual: { type: ActualType; bridge?: string | undefined },
  host: NetHost | undefined,
  field: string,
  started: StartedForNic = {},
): Props {
  const queues = n.driver?.queues ?? 1;
  if (n.script && actual.type !== 'ethernet')
    throw unsupported(`scripts are not supported on interfaces of type ${actual.type}`, `${field}/script`);
  const src = n.source;
  switch (actual.type) {
    case 'ethernet':
    case 'bridge': {
      const ifname = host ? undefined : started.tap?.();
      if (ifname !== undefined) return namedTapProps(n, ifname, field);
      const helper = host || actual.type !== 'bridge' ? undefined : started.bridgeHelper?.();
      if (helper !== undefined && actual.bridge !== undefined)
        return bridgeHelperProps(n, actual.bridge, helper, field);
      if (!host)
        throw unsupported(
          `interface type '${n.type}' needs a host network setup virtkit does not do yet`,
          `${field}/@type`,
        );
      const tap = host.tapFds({
        alias,
        queues,
        kind: actual.type,
        ...(actual.bridge !== undefined ? { bridge: actual.bridge } : {}),
        ...(n.target?.dev !== undefined ? { ifname: n.target.dev } : {}),
        ...(n.backend?.tap !== undefined ? { device: n.backend.tap } : {}),
      });
      // vhost-net serves virtio NICs only: for another model libvirt opens no vhost device,
      // whatever <backend vhost> names
      const vhostDevice = n.backend?.vhost;
      const vhost =
        isVirtioNicModel(n.model?.type) && n.driver?.name !== 'qemu'
          ? host.vhostFds({ alias, queues, ...(vhostDevice !== undefined ? { device: vhostDevice } : {}) })
          : [];
      const p: Props = { type: 'tap', [tap.length > 1 ? 'fds' : 'fd']: tap.join(':') };
      if (vhost.length > 0) {
        p.vhost = true;
        p[vhost.length > 1 ? 'vhostfds' : 'vhostfd'] = vhost.join(':');
      }
      if (n.tune?.sndbuf !== undefined) p.sndbuf = n.tune.sndbuf;
      return p;
    }
    case 'server':
      return { type: 'socket', listen: socketAddr(src?.address, src?.port, `${field}/source`) };
    case 'client':
      return { type: 'socket', connect: socketAddr(src?.address, src?.port, `${field}/source`) };
    case 'mcast':
      return { type: 'socket', mcast: socketAddr(src?.address, src?.port, `${field}/source`) };
    case 'udp': {
      const local = src?.local;
      if (!local)
        throw new VirError('XML_DETAIL', 'qemu', 'udp interface without a local address', {
          field: `${field}/source/local`,
        });
      return {
        type: 'socket',
        udp: socketAddr(src?.address, src?.port, `${field}/source`),
        localaddr: socketAddr(local.address, local.port, `${field}/source/local`),
      };
    }
    case 'user':
      return n.backend?.type === 'passt' ? passtProps(b, field, started.passtSocket) : { type: 'user' };
    case 'vhostuser': {
      if (n.backend?.type === 'passt')
        return passtVhostUserProps(b, alias, queues, field, started.passtSocket);
      if (src?.type !== 'unix' || src.path === undefined)
        throw unsupported('a vhost-user interface needs a UNIX socket source', `${field}/source/@type`);
      const chardev = [`socket,id=char${alias}`, `path=${optValue(src.path, `${field}/source/@path`)}`];
      if (src.mode === 'server') chardev.push('server=on');
      b.add('-chardev', chardev.join(','));
      return vhostUserNetdev(alias, queues);
    }
    case 'vdpa': {
      if (!host)
        throw unsupported(
          `interface type 'vdpa' needs a host network setup virtkit does not do yet`,
          `${field}/@type`,
        );
      const path = checkValue(src?.dev ?? '', `${field}/source/@dev`);
      if (!path.startsWith('/'))
        throw new VirError('XML_DETAIL', 'qemu', 'vdpa source dev must be an absolute path', {
          field: `${field}/source/@dev`,
        });
      const fd = host.vdpaFd({ alias, queues, path });
      const set = b.nextFdset();
      b.add('-add-fd', `set=${set},fd=${fd},opaque=${alias}-vdpa`);
      const p: Props = { type: 'vhost-vdpa', vhostdev: `/dev/fdset/${set}` };
      if (queues > 1) p.queues = queues;
      return p;
    }
    default:
      throw unsupported(`interface type '${actual.type}' is not supported`, `${field}/@type`);
  }
}
