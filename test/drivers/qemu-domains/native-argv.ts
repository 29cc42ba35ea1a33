/**
 * Comparing a `qemu-argv` line of ours with libvirt 9.0's `virsh
 * domxml-to-native` (the differential tests share it): the words from the
 * binary on, each side's directories and the version differences the
 * virt-install differential lists folded.
 */

/** Splits a shell-quoted command line (single quotes only, as both sides write it). */
export function words(line: string): string[] {
  const out: string[] = [];
  const re = /'((?:[^']|'\\'')*)'|(\S+)/g;
  for (const m of line.trim().matchAll(re))
    out.push(m[1] !== undefined ? m[1].replaceAll("'\\''", "'") : m[2]!);
  // adjacent quoted and bare parts of one word do not occur in either side's output
  return out;
}

/** The argv from the binary on, with each side's directories and the version differences folded. */
export function normalise(line: string, dirs: string[], hasWatchdog: boolean): string[] {
  let w = words(line);
  w = w.slice(w.findIndex((x) => x.startsWith('/') && x.includes('qemu-system')));
  const out: string[] = [];
  for (let i = 0; i < w.length; i++) {
    let x = w[i]!;
    for (const d of dirs) x = x.replaceAll(d, '<dir>');
    // per-guest subdirectories name the guest differently (uuid vs id and name prefix)
    x = x.replace(/<dir>[^,"']*?\/(domain-[^/,"']+)/g, '<dir>/<guest>');
    x = x.replace(/<dir>\/(qemu\/)?(lib\/)?(channel\/target\/)?<guest>/g, '<dir>/<guest>');
    if (x === '-object' && /"id":"masterKey0"/.test(w[i + 1] ?? '')) {
      i++;
      continue;
    }
    if (x === '-no-hpet') continue;
    if (x === '-global' && w[i + 1] === 'ICH9-LPC.noreboot=off') {
      i++;
      continue;
    }
    if (x === '-watchdog-action' && !hasWatchdog) {
      i++;
      continue;
    }
    x = x.replace(/(^|,)(port|tls-port)=59\d\d(?=,|$)/g, '$1$2=<auto>');
    if (x === '-m' && /^\d+$/.test(w[i + 1] ?? '')) {
      out.push('-m', `size=${Number(w[++i]) * 1024}k`);
      continue;
    }
    if (out.at(-1) === '-machine') x = x.replace(/,hpet=off/, '').replace(/,acpi=on/, '');
    out.push(x);
  }
  return out;
}
