/**
 * The fixture of the tests whose network ports outlive a connection: as
 * root, an isolated network `network` with a bridge `bridge` of its own,
 * on roots of the test's own under the qemu:///system URI; each
 * connection opened is one a test closes itself (a guest runs on after
 * it), and whatever is left (guests, connections, QEMU, the bridge, the
 * roots) goes in afterAll.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from '../../../src/connection.js';
import { leftoversAfterAll } from '../real-guest.js';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));

/** Why the network cannot be made here, as a title suffix, or ''. */
export const PORTS_SKIP =
  process.getuid?.() !== 0
    ? ' (skipped: not root: the network makes a bridge)'
    : !IP
      ? ' (skipped: no ip command)'
      : '';

export interface PortsFixture {
  /** The folder of the roots. */
  readonly path: string;
  /** A qemu:///system connection on the roots. */
  open(): Promise<Connection>;
  /** The network's port directory. */
  portsDir(): string;
  /** The files in it, sorted. */
  portFiles(): string[];
}

/** The roots (`prefix`...) and the afterAll of a test on `network` with `bridge`. */
export function portsFixture(prefix: string, network: string, bridge: string): PortsFixture {
  const leftovers = leftoversAfterAll();
  const roots = leftovers.roots(prefix);
  leftovers.lastly(() => {
    if (IP && existsSync(`/sys/class/net/${bridge}`)) execFileSync(IP, ['link', 'del', bridge]);
  });
  const portsDir = join(roots.path, 'rundir', 'networks', network, 'ports');
  return {
    path: roots.path,
    open: () => leftovers.connect(roots.path, 'qemu:///system'),
    portsDir: () => portsDir,
    portFiles: () => (existsSync(portsDir) ? readdirSync(portsDir).sort() : []),
  };
}
