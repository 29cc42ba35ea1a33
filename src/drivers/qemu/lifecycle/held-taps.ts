/**
 * The taps a QEMU process holds, read from /proc: each open `/dev/net/tun`
 * descriptor's fdinfo names its interface (`iff:`). This is how the live
 * definition learns the tap qemu-bridge-helper made for an unprivileged
 * guest (QEMU runs the helper itself, so the name never passes through us);
 * libvirt, which receives the helper's descriptor, asks the descriptor.
 *
 * @module
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { InterfaceDef } from '../../../conf/domain/devices/index.js';

/** The tap interfaces `pid` has open, in the order they were created (the kernel's increasing ifindex). */
export function tapsHeldBy(pid: number): string[] {
  const fdDir = `/proc/${pid}/fd`;
  let fds: string[];
  try {
    fds = readdirSync(fdDir);
  } catch {
    return [];
  }
  // a multiqueue tap is several descriptors of one interface
  const byName = new Map<string, number>();
  for (const fd of fds) {
    try {
      if (readlinkSync(`${fdDir}/${fd}`) !== '/dev/net/tun') continue;
      const name = /^iff:\s*(\S+)\s*$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
      if (name === undefined || byName.has(name)) continue;
      byName.set(name, Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8')));
    } catch {
      // closed meanwhile, or not a tap attached to an interface
    }
  }
  return [...byName].sort((a, b) => a[1] - b[1]).map(([name]) => name);
}

/**
 * Names the taps of the interfaces whose tap qemu-bridge-helper made
 * (`helperNics`, by interface index), in `<target dev>`: the helper's taps
 * are the ones `pid` holds that no other interface names, created in
 * command-line order. A name carried over from an earlier run is replaced.
 * Nothing is written when the count does not match (a guess could name
 * another guest's tap).
 */
export function nameHelperTaps(
  interfaces: readonly InterfaceDef[],
  helperNics: readonly number[],
  pid: number,
): void {
  if (helperNics.length === 0) return;
  const helper = new Set(helperNics);
  const named = new Set(
    interfaces.flatMap((n, i) => (helper.has(i) || n.target?.dev === undefined ? [] : [n.target.dev])),
  );
  const held = tapsHeldBy(pid).filter((t) => !named.has(t));
  if (held.length !== helper.size) return;
  for (const [k, i] of [...helper].sort((a, b) => a - b).entries()) {
    const n = interfaces[i];
    if (n) n.target = { ...n.target, dev: held[k] as string };
  }
}
