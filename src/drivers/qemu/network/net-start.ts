/**
 * Starting and stopping one network on the host. `bridge` mode uses a host
 * bridge that must exist (nothing is made). `nat`, `route` and isolated
 * networks get their own bridge, in libvirt's order: checks first (root,
 * the tools, the bridge name free, the subnet colliding with no host
 * route, which covers every running network's), then the bridge (STP,
 * delay, MAC, MTU), its address, up, the firewall table, IPv4 forwarding
 * (`nat`, `route`), dnsmasq. Every step made is undone, newest first, when
 * a later one fails, and by {@link stopNetwork}.
 *
 * Without a firewall tool an isolated network still starts when the host
 * does not forward IPv4 (nothing can leave its bridge then); `nat` and
 * `route` are refused (see firewall.ts).
 *
 * @module
 */
import { ipPrefix } from '../../../conf/network/ip.js';
import type { NetworkDef } from '../../../conf/network/network-def.js';
import { VirError } from '../../../errors.js';
import {
  type DnsmasqFiles,
  dnsmasqConfig,
  dnsmasqFiles,
  dnsmasqUser,
  removeDnsmasqFiles,
  startDnsmasq,
  stopDnsmasqAndWait,
} from './dnsmasq.js';
import { addRules, firewallTool, removeRules } from './firewall.js';
import {
  deleteLink,
  enableIpForwarding,
  type HostRoute,
  hostRoutes,
  IFNAME,
  type IpStep,
  ipBatch,
  ipForwarding,
  ipv4Number,
  isBridge,
  linkExists,
  prefixMask,
  subnetsOverlap,
} from './host-net.js';
import { refuseUnsupported } from './net-support.js';

const BRIDGE_FIELD = '/network/bridge/@name';

function failed(message: string, field: string): VirError {
  return new VirError('OPERATION_FAILED', 'network', message, { field });
}

/** The network's IPv4 address and prefix, if it has one. */
export function networkAddress(def: NetworkDef): { address: string; prefix: number } | undefined {
  const ipDef = def.ips?.[0];
  if (ipDef?.address === undefined) return undefined;
  return { address: ipDef.address, prefix: ipPrefix(ipDef) ?? 24 };
}

function subnetOf(a: { address: string; prefix: number }): { dest: number; mask: number; text: string } {
  const mask = prefixMask(a.prefix);
  const dest = (ipv4Number(a.address) & mask) >>> 0;
  const text = `${[24, 16, 8, 0].map((s) => (dest >>> s) & 0xff).join('.')}/${a.prefix}`;
  return { dest, mask, text };
}

/** The host route `def`'s subnet collides with (libvirt: "Network is already in use by interface"). */
export function routeCollision(
  def: NetworkDef,
  routes: readonly HostRoute[] = hostRoutes(),
): HostRoute | undefined {
  const a = networkAddress(def);
  if (!a) return undefined;
  const s = subnetOf(a);
  return routes.find((r) => r.dev !== def.bridge?.name && subnetsOverlap(r, s));
}

/** The checks of a start, before anything is made. */
function checkStart(def: NetworkDef): { nft?: string } {
  refuseUnsupported(def);
  const mode = def.forwardMode;
  const bridge = def.bridge?.name ?? '';
  if (!IFNAME.test(bridge))
    throw new VirError('XML_DETAIL', 'network', `'${bridge}' is not a bridge name`, { field: BRIDGE_FIELD });
  if (mode === 'bridge') {
    if (!isBridge(bridge))
      throw failed(`network '${def.name}': host bridge '${bridge}' does not exist`, BRIDGE_FIELD);
    return {};
  }
  if (process.getuid?.() !== 0)
    throw new VirError(
      'OPERATION_INVALID',
      'network',
      `network '${def.name}': forward mode '${mode}' creates a bridge, which takes root (CAP_NET_ADMIN); as a user only forward mode='bridge' on an existing bridge can start`,
      { field: '/network/forward/@mode' },
    );
  const fw = firewallTool();
  if ('missing' in fw && (mode !== 'none' || ipForwarding()))
    throw new VirError(
      'NO_SUPPORT',
      'network',
      mode === 'none'
        ? `network '${def.name}': isolating the network takes firewall rules while the host forwards IPv4, but ${fw.missing}`
        : `network '${def.name}': forward mode '${mode}' takes firewall rules, but ${fw.missing}`,
      { field: '/network/forward/@mode' },
    );
  if (linkExists(bridge)) throw failed(`bridge name '${bridge}' already in use`, BRIDGE_FIELD);
  const clash = routeCollision(def);
  if (clash) throw failed(`Network is already in use by interface ${clash.dev}`, '/network/ip[1]/@address');
  return 'nft' in fw ? { nft: fw.nft } : {};
}

/** Starts `def` on the host; on failure nothing it made is left. */
export async function startNetwork(def: NetworkDef, stateDir: string): Promise<void> {
  const { nft } = checkStart(def);
  if (def.forwardMode === 'bridge') return;
  const bridge = def.bridge!.name!;
  const undo: Array<() => Promise<void> | void> = [];
  try {
    const stp = def.bridge?.stp !== false;
    const delay = def.bridge?.delay ?? 0;
    const addr = networkAddress(def);
    // one ip process for the bridge; the delay is set before STP is on: the kernel refuses a short delay once STP runs
    undo.push(() => deleteLink(bridge));
    const steps: IpStep[] = [
      {
        args: ['link', 'add', 'name', bridge, 'type', 'bridge', 'forward_delay', String(delay * 100)],
        doing: `cannot create bridge '${bridge}'`,
      },
    ];
    if (stp)
      steps.push({
        args: ['link', 'set', 'dev', bridge, 'type', 'bridge', 'stp_state', '1'],
        doing: `cannot enable STP on '${bridge}'`,
      });
    if (def.mac !== undefined)
      steps.push({
        args: ['link', 'set', 'dev', bridge, 'address', def.mac],
        doing: `cannot set the MAC of '${bridge}'`,
      });
    if (def.mtu !== undefined)
      steps.push({
        args: ['link', 'set', 'dev', bridge, 'mtu', String(def.mtu)],
        doing: `cannot set the MTU of '${bridge}'`,
      });
    if (addr)
      steps.push({
        args: ['addr', 'add', `${addr.address}/${addr.prefix}`, 'dev', bridge],
        doing: `cannot add ${addr.address} to '${bridge}'`,
      });
    steps.push({ args: ['link', 'set', 'dev', bridge, 'up'], doing: `cannot bring '${bridge}' up` });
    await ipBatch(steps);
    const mode = def.forwardMode as 'nat' | 'route' | 'none';
    if (nft !== undefined && addr) {
      undo.push(() => removeRules(nft, bridge));
      await addRules(nft, { mode, bridge, subnet: subnetOf(addr).text });
    }
    if (mode !== 'none') enableIpForwarding();
    if (addr) {
      const files = dnsmasqFiles(stateDir, def.name!);
      undo.push(async () => {
        await stopDnsmasqAndWait(files);
        removeDnsmasqFiles(files);
      });
      await startDnsmasq(files, dnsmasqConfig(def, bridge, files, addr.prefix, dnsmasqUser()));
    }
  } catch (err) {
    for (const u of undo.reverse()) await u();
    throw err;
  }
}

/** The dnsmasq files of a network. */
export function networkDnsmasq(def: NetworkDef, stateDir: string): DnsmasqFiles {
  return dnsmasqFiles(stateDir, def.name!);
}

/** Stops what {@link startNetwork} made: dnsmasq, the firewall table, the bridge. */
export async function stopNetwork(def: NetworkDef, stateDir: string): Promise<void> {
  if (def.forwardMode === 'bridge') return;
  const files = dnsmasqFiles(stateDir, def.name!);
  await stopDnsmasqAndWait(files);
  removeDnsmasqFiles(files);
  const bridge = def.bridge?.name;
  if (bridge === undefined) return;
  await removeRules(undefined, bridge);
  await deleteLink(bridge);
}
