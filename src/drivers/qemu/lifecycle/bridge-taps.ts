/**
 * The host side of `<interface type='bridge'>` in the real driver: a tap
 * device per interface, created before QEMU, given the guest MAC with its
 * first byte set to 0xfe (as libvirt does, so the bridge never takes the
 * guest's address for its own), the interface's MTU when it names one,
 * attached to the bridge and brought up, shaped by its `<bandwidth>`
 * (tap-bandwidth.ts); QEMU then opens it by name. The
 * tap is deleted when the guest stops.
 *
 * Creating taps takes CAP_NET_ADMIN: as another user QEMU runs
 * qemu-bridge-helper itself (bridge-helper.ts). A bridge that does not exist
 * is refused naming `<source bridge>`. An `<interface type='network'>`
 * joins the bridge its network port names (`<source bridge>`, written at start).
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { InterfaceDef } from '../../../conf/domain/devices/index.js';
import { VirError } from '../../../errors.js';
import { unprivilegedBridgeHelper } from './bridge-helper.js';
import { setBandwidth } from './tap-bandwidth.js';

export interface BridgeTap {
  /** The interface's 0-based index among the guest's interfaces. */
  readonly index: number;
  readonly ifname: string;
  /** The bridge it joins; none for an `<interface type='ethernet'>`, whose tap stands alone. */
  readonly bridge: string | undefined;
}

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'];
/** Linux interface names: at most 15 bytes, none of `/`, white space or `:`. */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

function ipBinary(field: string): string {
  const found = IP.find((p) => existsSync(p));
  if (found === undefined)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'the ip command (iproute2) is needed to create a tap', {
      field,
    });
  return found;
}

function ip(binary: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      binary,
      args,
      { timeout: 10_000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } },
      (err, _o, stderr) => resolve(err ? String(stderr).trim() || err.message : undefined),
    );
  });
}

/** The tap's name: the definition's `<target dev>`, else one derived from the guest's UUID and the index. */
export function tapName(n: InterfaceDef, uuid: string, index: number, field: string): string {
  const given = n.target?.dev;
  if (given !== undefined) {
    if (!IFNAME.test(given))
      throw new VirError('XML_DETAIL', 'qemu', `'${given}' is not a network interface name`, {
        field: `${field}/target/@dev`,
      });
    return given;
  }
  return `vk${uuid.replace(/-/g, '').slice(0, 8)}n${index}`;
}

/** The guest MAC with the first byte 0xfe, as the host end of its tap. */
export function tapMac(mac: string | undefined): string | undefined {
  if (mac === undefined || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac)) return undefined;
  return `fe${mac.slice(2)}`;
}

/** The bridge an interface joins: its own (`type='bridge'`) or its network port's (`type='network'`, resolved at start). */
function joinedBridge(n: InterfaceDef): boolean {
  return n.type === 'bridge' || (n.type === 'network' && n.source?.portid !== undefined);
}

/** Whether the interface's host end is a tap virtkit makes: on a bridge, or standing alone (`ethernet`). */
export function madeTap(n: InterfaceDef): boolean {
  return joinedBridge(n) || n.type === 'ethernet';
}

/**
 * Which interfaces join a bridge, checked before anything is created: a
 * tap to make for each (as root), or as another user the qemu-bridge-helper
 * QEMU runs for it (`helpers`, by interface index).
 */
export function plannedTaps(
  interfaces: readonly InterfaceDef[],
  uuid: string,
  opts: { helper?: string; aclFile?: string } = {},
  helpers: Record<number, string> = {},
  only?: number,
): BridgeTap[] {
  const out: BridgeTap[] = [];
  for (const [i, n] of interfaces.entries()) {
    if (only !== undefined && i !== only) continue;
    const field = `/domain/devices/interface[${i + 1}]`;
    if (n.type === 'ethernet') {
      // libvirt makes the tap of a managed ethernet interface itself, which takes CAP_NET_ADMIN
      if (process.getuid?.() !== 0)
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          `${field}: an ethernet interface needs a tap, which only root can create`,
          { field: `${field}/@type` },
        );
      out.push({ index: i, ifname: freeTapName(n, uuid, i, field), bridge: undefined });
      continue;
    }
    if (!joinedBridge(n)) continue;
    const bridge = n.source?.bridge;
    if (bridge === undefined || !IFNAME.test(bridge))
      throw new VirError('XML_DETAIL', 'qemu', `'${bridge ?? ''}' is not a bridge name`, {
        field: `${field}/source/@bridge`,
      });
    if (!existsSync(`/sys/class/net/${bridge}/bridge`))
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: bridge '${bridge}' does not exist`, {
        field: `${field}/source/@bridge`,
      });
    // as a user, libvirt's way is qemu-bridge-helper, which QEMU runs itself (bridge-helper.ts)
    if (process.getuid?.() !== 0) {
      helpers[i] = unprivilegedBridgeHelper(bridge, field, opts);
      continue;
    }
    out.push({ index: i, ifname: freeTapName(n, uuid, i, field), bridge });
  }
  return out;
}

/** The tap's name, refused when an interface of that name is there already (but a stale tap of ours). */
function freeTapName(n: InterfaceDef, uuid: string, i: number, field: string): string {
  const ifname = tapName(n, uuid, i, field);
  if (existsSync(`/sys/class/net/${ifname}`) && !(n.target?.dev === undefined && isStaleTap(ifname)))
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `${field}: network interface '${ifname}' already exists`,
      {
        field: `${field}/target/@dev`,
      },
    );
  return ifname;
}

/**
 * True when `ifname` is a tap nobody holds open (no carrier): one this guest
 * made under its own generated name in a run that ended without removing it
 * (the host process killed with its guest). It is replaced at start.
 */
function isStaleTap(ifname: string): boolean {
  try {
    return (
      existsSync(`/sys/class/net/${ifname}/tun_flags`) &&
      readFileSync(`/sys/class/net/${ifname}/carrier`, 'utf8').trim() === '0'
    );
  } catch {
    // carrier cannot be read while the link is down: nobody brought it up for a guest
    return existsSync(`/sys/class/net/${ifname}/tun_flags`);
  }
}

/** Creates, configures and attaches one tap; a failure deletes what was made and names the field. */
export async function createTap(tap: BridgeTap, n: InterfaceDef): Promise<void> {
  const field = `/domain/devices/interface[${tap.index + 1}]`;
  const bin = ipBinary(`${field}/@type`);
  const fail = async (why: string): Promise<never> => {
    await deleteTap(tap);
    throw new VirError('OPERATION_FAILED', 'qemu', `${field}: cannot create tap '${tap.ifname}': ${why}`, {
      field: `${field}/@type`,
    });
  };
  // a stale tap of this guest's (see isStaleTap) goes first
  await deleteTap(tap);
  let err = await ip(bin, ['tuntap', 'add', 'dev', tap.ifname, 'mode', 'tap']);
  if (err !== undefined) return fail(err);
  const mac = tapMac(n.mac?.address);
  const steps: string[][] = [
    ...(mac ? [['link', 'set', 'dev', tap.ifname, 'address', mac]] : []),
    ...(n.mtu?.size !== undefined ? [['link', 'set', 'dev', tap.ifname, 'mtu', String(n.mtu.size)]] : []),
    ...(tap.bridge !== undefined ? [['link', 'set', 'dev', tap.ifname, 'master', tap.bridge]] : []),
    ['link', 'set', 'dev', tap.ifname, 'up'],
  ];
  for (const s of steps) {
    err = await ip(bin, s);
    if (err !== undefined) return fail(err);
  }
  if (n.bandwidth) {
    try {
      await setBandwidth(tap.ifname, n.bandwidth, `${field}/bandwidth`);
    } catch (e) {
      await deleteTap(tap);
      throw e;
    }
  }
}

/** Deletes the tap (it is gone already when nobody made it). */
export async function deleteTap(tap: BridgeTap): Promise<void> {
  const bin = IP.find((p) => existsSync(p));
  if (bin !== undefined && existsSync(`/sys/class/net/${tap.ifname}`))
    await ip(bin, ['link', 'del', 'dev', tap.ifname]);
}

/** What a hot-plugged interface's host end is: a tap made here (as root), or the helper QEMU runs. */
export interface PluggedTap {
  readonly tap?: BridgeTap;
  readonly bridgeHelper?: string;
}

/**
 * The host end of one interface plugged into a running guest (its
 * `index`-th): the same checks and tap a start makes for it, the tap's name
 * written into its `<target dev>`. Nothing is made for a type without a tap.
 */
export async function plugTap(
  interfaces: readonly InterfaceDef[],
  index: number,
  uuid: string,
  opts: { helper?: string; aclFile?: string } = {},
): Promise<PluggedTap> {
  const helpers: Record<number, string> = {};
  const [tap] = plannedTaps(interfaces, uuid, opts, helpers, index);
  const n = interfaces[index] as InterfaceDef;
  if (tap) {
    await createTap(tap, n);
    n.target ??= { dev: tap.ifname };
    return { tap };
  }
  const helper = helpers[index];
  return helper !== undefined ? { bridgeHelper: helper } : {};
}
