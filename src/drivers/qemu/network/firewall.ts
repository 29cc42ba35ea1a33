/**
 * The firewall rules of a virtual network, in nftables: one table of the
 * network's own (`ip virtkit_<bridge>`) holding what libvirt's network
 * driver adds for the mode: masquerade of the subnet's traffic leaving it
 * (`nat`, with libvirt's exceptions for multicast and broadcast and its
 * source port range), forwarding to and from the subnet (`nat`, `route`),
 * forwarding refused off the bridge (isolated), and DHCP and DNS accepted
 * from the bridge. Removing the table removes every rule at once.
 *
 * Only `nft` is driven: a host with neither nft nor iptables cannot carry
 * out `nat` or `route`, and such a start is refused (as libvirt 9 fails
 * without its firewall tool); with only iptables it is refused too, naming
 * nft as what is missing.
 *
 * @module
 */
import { VirError } from '../../../errors.js';
import { findBinary, runCommand } from './host-net.js';

const NFT = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'];
const IPTABLES = ['/usr/sbin/iptables', '/sbin/iptables', '/usr/bin/iptables'];

/** What the rules are made from. */
export interface FirewallPlan {
  mode: 'nat' | 'route' | 'none';
  bridge: string;
  /** The subnet, `a.b.c.d/len`. */
  subnet: string;
}

/** The nft binary, or why none can be used. */
export function firewallTool(): { nft: string } | { missing: string } {
  const nft = findBinary(NFT);
  if (nft !== undefined) return { nft };
  return {
    missing:
      findBinary(IPTABLES) !== undefined
        ? 'nft (nftables) is not installed; virtkit drives nftables only, not iptables'
        : 'neither nft (nftables) nor iptables is installed',
  };
}

/** The table's name: nft identifiers take letters, digits and `_`. */
export function tableName(bridge: string): string {
  return `virtkit_${bridge.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** The nft script that makes the table (bridge and subnet were checked when the network started). */
export function rulesScript(p: FirewallPlan): string {
  const t = tableName(p.bridge);
  const br = `"${p.bridge}"`;
  const net = p.subnet;
  const lines = [`table ip ${t} {`];
  lines.push(
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    `    iifname ${br} udp dport { 53, 67 } accept`,
    `    iifname ${br} tcp dport 53 accept`,
    '  }',
  );
  lines.push('  chain forward {', '    type filter hook forward priority filter; policy accept;');
  lines.push(`    iifname ${br} oifname ${br} accept`);
  if (p.mode === 'nat') {
    lines.push(`    iifname ${br} ip saddr ${net} accept`);
    lines.push(`    oifname ${br} ip daddr ${net} ct state related,established accept`);
  } else if (p.mode === 'route') {
    lines.push(`    iifname ${br} ip saddr ${net} accept`);
    lines.push(`    oifname ${br} ip daddr ${net} accept`);
  }
  lines.push(`    iifname ${br} reject`, `    oifname ${br} reject`, '  }');
  if (p.mode === 'nat')
    lines.push(
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      `    ip saddr ${net} ip daddr 224.0.0.0/24 return`,
      `    ip saddr ${net} ip daddr 255.255.255.255 return`,
      `    ip saddr ${net} ip daddr != ${net} meta l4proto { tcp, udp } masquerade to :1024-65535`,
      `    ip saddr ${net} ip daddr != ${net} masquerade`,
      '  }',
    );
  lines.push('}', '');
  return lines.join('\n');
}

/**
 * Adds the network's table, replacing one a killed process left: one nft
 * transaction (`add table` makes it if absent so the `delete` cannot fail,
 * then the new table), so one process. A failure leaves none.
 */
export async function addRules(nft: string, p: FirewallPlan): Promise<void> {
  const t = tableName(p.bridge);
  const r = await runCommand(nft, ['-f', '-'], `add table ip ${t}\ndelete table ip ${t}\n${rulesScript(p)}`);
  if (r.error !== undefined) {
    await removeRules(nft, p.bridge);
    throw new VirError(
      'OPERATION_FAILED',
      'network',
      `cannot add the firewall rules of ${p.bridge}: ${r.error}`,
    );
  }
}

/** Removes the network's table if it is there (cleanup: never fails). */
export async function removeRules(nft: string | undefined, bridge: string): Promise<void> {
  const bin = nft ?? findBinary(NFT);
  if (bin !== undefined) await runCommand(bin, ['delete', 'table', 'ip', tableName(bridge)]);
}
