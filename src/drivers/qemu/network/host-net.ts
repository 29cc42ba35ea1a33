/**
 * The host commands a virtual network is made of, run as libvirt's network
 * driver runs them: `ip` for bridges and addresses, the kernel's routing
 * table (`/proc/net/route`) for address collisions, `/proc/sys` for IPv4
 * forwarding. Every command has a bounded wait and a fixed PATH.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { VirError } from '../../../errors.js';

const SBIN_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'];
/** Linux interface names: at most 15 bytes, none of `/`, white space or `:`. */
export const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** The first of `paths` that exists. */
export function findBinary(paths: readonly string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

/** Runs a command; resolves to its standard error (or the failure) when it fails, else undefined. */
export function runCommand(
  binary: string,
  args: readonly string[],
  input?: string,
): Promise<{ error?: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      binary,
      [...args],
      { timeout: 15_000, env: { PATH: SBIN_PATH } },
      (err, stdout, stderr) =>
        resolve(
          err
            ? { error: String(stderr).trim() || err.message, stdout: String(stdout) }
            : { stdout: String(stdout) },
        ),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

function ipBinary(): string {
  const found = findBinary(IP);
  if (found === undefined)
    throw new VirError('NO_SUPPORT', 'network', 'the ip command (iproute2) is needed to start a network');
  return found;
}

/** `ip ARGS`, failing with OPERATION_FAILED naming what was being done. */
export async function ip(args: readonly string[], doing: string): Promise<void> {
  const r = await runCommand(ipBinary(), args);
  if (r.error !== undefined) throw new VirError('OPERATION_FAILED', 'network', `${doing}: ${r.error}`);
}

/** One `ip` command of a batch and what it does, for the error if it fails. */
export interface IpStep {
  args: readonly string[];
  doing: string;
}

/**
 * Runs `steps` with one `ip -batch -` (one process instead of one per
 * step: each spawn costs milliseconds, more on a loaded host). ip stops at
 * the first failing line and says which (`Command failed -:N`); the error
 * names that step. Arguments must hold no white space (the callers'
 * values are checked names, numbers and addresses).
 */
export async function ipBatch(steps: readonly IpStep[]): Promise<void> {
  if (steps.length === 0) return;
  for (const s of steps)
    if (s.args.some((a) => a === '' || /\s/.test(a)))
      throw new VirError('INTERNAL_ERROR', 'network', `${s.doing}: an argument holds white space`);
  const r = await runCommand(
    ipBinary(),
    ['-batch', '-'],
    `${steps.map((s) => s.args.join(' ')).join('\n')}\n`,
  );
  if (r.error === undefined) return;
  const line = Number(/Command failed -:(\d+)/.exec(r.error)?.[1]);
  const doing = steps[line - 1]?.doing ?? steps[0]!.doing;
  const why = r.error.replace(/\s*Command failed -:\d+\s*/, ' ').trim();
  throw new VirError('OPERATION_FAILED', 'network', `${doing}: ${why}`);
}

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

export function isBridge(name: string): boolean {
  return existsSync(`/sys/class/net/${name}/bridge`);
}

/** Deletes a link if it is there (cleanup: never fails). */
export async function deleteLink(name: string): Promise<void> {
  const bin = findBinary(IP);
  if (bin !== undefined && linkExists(name)) await runCommand(bin, ['link', 'del', 'dev', name]);
}

/** One IPv4 route of the host: its destination, mask (as 32-bit numbers) and device. */
export interface HostRoute {
  dev: string;
  dest: number;
  mask: number;
}

/** The kernel's IPv4 routes (`/proc/net/route`, addresses in host byte order hex), default routes left out. */
export function hostRoutes(text?: string): HostRoute[] {
  let raw = text;
  if (raw === undefined) {
    try {
      raw = readFileSync('/proc/net/route', 'utf8');
    } catch {
      return [];
    }
  }
  const out: HostRoute[] = [];
  for (const line of raw.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = leHex(f[1] as string);
    const mask = leHex(f[7] as string);
    if (mask === 0) continue;
    out.push({ dev: f[0] as string, dest, mask });
  }
  return out;
}

/** /proc/net/route writes each address as the hex of its bytes in memory order (little-endian here). */
function leHex(h: string): number {
  const v = Number.parseInt(h, 16);
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | ((v >>> 24) & 0xff)) >>> 0;
}

/** An IPv4 address as a 32-bit number. */
export function ipv4Number(addr: string): number {
  return addr.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);
}

/** The mask of a prefix length. */
export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Whether two subnets share an address. */
export function subnetsOverlap(
  a: { dest: number; mask: number },
  b: { dest: number; mask: number },
): boolean {
  const m = (a.mask & b.mask) >>> 0;
  return (a.dest & m) >>> 0 === (b.dest & m) >>> 0;
}

const FORWARD = '/proc/sys/net/ipv4/ip_forward';

/** Whether the host forwards IPv4 packets. */
export function ipForwarding(): boolean {
  try {
    return readFileSync(FORWARD, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/** Turns IPv4 forwarding on, as libvirt does for a NAT or routed network (it never turns it off). */
export function enableIpForwarding(): void {
  if (ipForwarding()) return;
  try {
    writeFileSync(FORWARD, '1\n');
  } catch (err) {
    throw new VirError('SYSTEM_ERROR', 'network', `cannot enable IPv4 forwarding: ${(err as Error).message}`);
  }
}
