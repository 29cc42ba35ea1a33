/**
 * A tiny Linux guest built from what the host has installed (shared by the
 * real-guest tests and the benchmarks, hence here): the newest
 * Debian kernel under /boot whose modules are present, busybox-static as
 * the whole userland, and an initramfs whose /init reports what the guest
 * sees on the serial console and powers off on the ACPI power button.
 *
 * The cpio archive (newc format) is written here rather than with the cpio
 * tool: it needs device nodes (/dev/console, so init has a console before
 * devtmpfs is mounted), which cpio could only take from a staging tree made
 * with mknod, i.e. as root.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const BOOT_MARKER = 'VIRTKIT-BOOT-OK';
export const REPORT_END = 'VIRTKIT-REPORT-END';
export const BUSYBOX = '/bin/busybox';

/**
 * The modules the report needs, by the name of their .ko file. A device
 * whose driver is neither built in nor loadable is named in `missing` so the
 * test can skip that line visibly.
 */
export const WANTED_MODULES = [
  'virtio_pci',
  'virtio_blk',
  'virtio_net',
  'virtio-rng',
  'virtio_console',
  // memory the host resizes (virtio-mem); DIMMs need no module (ACPI memory hotplug is built in)
  'virtio_mem',
  'tpm_crb',
  'tpm_tis',
  'fuse',
  'virtiofs',
  'button',
  'evdev',
] as const;

export interface Kernel {
  readonly version: string;
  readonly image: string;
  readonly modulesDir: string;
}

/** The newest /boot/vmlinuz-<version> with /lib/modules/<version>/modules.dep, or undefined. */
export function findKernel(boot = '/boot', modules = '/lib/modules'): Kernel | undefined {
  if (!existsSync(boot)) return undefined;
  const found = readdirSync(boot)
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => existsSync(join(modules, v, 'modules.dep')))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const version = found.at(-1);
  if (version === undefined) return undefined;
  try {
    // a kernel image only root can read (Ubuntu's) is no use to a user's QEMU
    readFileSync(join(boot, `vmlinuz-${version}`)).subarray(0, 1);
  } catch {
    return undefined;
  }
  return { version, image: join(boot, `vmlinuz-${version}`), modulesDir: join(modules, version) };
}

export function hasBusybox(): boolean {
  try {
    execFileSync(BUSYBOX, ['true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface CpioEntry {
  readonly name: string;
  readonly mode: number;
  readonly data?: Buffer;
  readonly rdev?: readonly [number, number];
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/** The "newc" cpio format the kernel unpacks: 110 bytes of hex header, name, data, each padded to 4. */
function cpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  let ino = 1;
  for (const e of [...entries, { name: 'TRAILER!!!', mode: 0 }]) {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(`${e.name}\0`);
    const fields = [
      ino++,
      e.mode,
      0,
      0,
      e.mode & S_IFDIR ? 2 : 1,
      0,
      data.length,
      0,
      0,
      e.rdev?.[0] ?? 0,
      e.rdev?.[1] ?? 0,
      name.length,
      0,
    ];
    const header = Buffer.from(`070701${fields.map(hex).join('')}`);
    parts.push(header, name, pad(header.length + name.length), data, pad(data.length));
  }
  return Buffer.concat(parts);
}

/** A module's bytes as busybox insmod needs them (it cannot read compressed modules). */
function moduleBytes(path: string): Buffer | undefined {
  if (path.endsWith('.ko')) return readFileSync(path);
  const tool = path.endsWith('.xz') ? 'xz' : path.endsWith('.zst') ? 'zstd' : undefined;
  if (!tool) return undefined;
  try {
    return execFileSync(tool, ['-dc', path], { maxBuffer: 64 << 20 });
  } catch {
    return undefined;
  }
}

export interface ModulePlan {
  /** Files to insmod, dependencies first. */
  readonly load: readonly { readonly file: string; readonly data: Buffer }[];
  readonly builtin: readonly string[];
  /** Wanted modules that are neither built in nor loadable here, with why. */
  readonly missing: readonly string[];
}

const baseName = (p: string) => (p.split('/').at(-1) ?? p).replace(/\.ko(\.(xz|zst|gz))?$/, '');

export function planModules(kernel: Kernel, wanted: readonly string[] = WANTED_MODULES): ModulePlan {
  const builtinText = readFileSync(join(kernel.modulesDir, 'modules.builtin'), 'utf8');
  const builtinSet = new Set(builtinText.split('\n').filter(Boolean).map(baseName));
  const deps = new Map<string, { path: string; deps: string[] }>();
  for (const line of readFileSync(join(kernel.modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const [path, rest] = line.split(':');
    if (!path || rest === undefined) continue;
    deps.set(baseName(path), { path, deps: rest.trim().split(/\s+/).filter(Boolean).map(baseName) });
  }
  const builtin: string[] = [];
  const missing: string[] = [];
  const load: { file: string; data: Buffer }[] = [];
  const done = new Set<string>();
  const visit = (name: string): boolean => {
    if (done.has(name) || builtinSet.has(name)) return true;
    const entry = deps.get(name);
    if (!entry) return false;
    for (const d of entry.deps) if (!visit(d)) return false;
    const data = moduleBytes(join(kernel.modulesDir, entry.path));
    if (!data) return false;
    done.add(name);
    load.push({ file: `${name}.ko`, data });
    return true;
  };
  for (const w of wanted) {
    if (builtinSet.has(w)) builtin.push(w);
    else if (!visit(w)) missing.push(w);
  }
  return { load, builtin, missing };
}

/**
 * The guest's /init. Each report line starts with "VK " and a key so the
 * test can pick it out of the kernel's own messages on the same console.
 */
function initScript(
  modules: readonly string[],
  share: string | undefined,
  echo = false,
  agent = false,
  hotplug = false,
  shell = false,
  dhcp = false,
): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# quiet the kernel so its messages do not split our report lines
echo 1 > /proc/sys/kernel/printk
for m in ${modules.join(' ')}; do
  insmod /lib/modules/$m.ko 2>/dev/null || echo "VK insmod-failed $m"
done
sleep 1
echo ${BOOT_MARKER}
echo "VK cpu $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2)"
echo "VK block $(ls /sys/block | tr '\\n' ' ')"
echo "VK net $(ls /sys/class/net | tr '\\n' ' ')"
echo "VK tpm $(ls /sys/class/tpm 2>/dev/null | tr '\\n' ' ')"
echo "VK hwrng $(cat /sys/class/misc/hw_random/rng_current 2>/dev/null) $(test -c /dev/hwrng && echo dev)"
echo "VK hwrng-bytes $(head -c 8 /dev/hwrng 2>/dev/null | wc -c)"
${
  share
    ? `mkdir -p /mnt/share
if mount -t virtiofs ${share} /mnt/share; then echo "VK share $(cat /mnt/share/hello.txt)"; else echo "VK share mount-failed"; fi`
    : ''
}
# the ACPI power button: its input device's events end the guest
pw=
for d in /sys/class/input/input*; do
  if [ "$(cat $d/name 2>/dev/null)" = "Power Button" ]; then
    for e in $d/event*; do [ -e "$e" ] && pw=/dev/input/$(basename $e); done
  fi
done
echo "VK button \${pw:-none}"
${
  dhcp
    ? `# ask the first NIC's network for a lease (udhcpc; the script that would configure the address is /bin/true)
ip link set eth0 up 2>/dev/null
udhcpc -i eth0 -n -q -t 10 -T 2 -s /bin/true -x hostname:vkguest 2>&1 | while read -r l; do echo "VK dhcp $l"; done
`
    : ''
}${agent ? AGENT_START : ''}echo ${REPORT_END}
${
  echo
    ? `# answer each line typed on the console (a guest that is still alive says so, e.g. after a migration),
# with a count kept in the shell's memory (a restored guest goes on counting; a fresh boot starts at 1)
n=0
while read -r line; do n=$((n+1)); echo "VK got $line"; echo "VK count $n"; done`
    : ''
}${
  hotplug
    ? `# for each line typed, what the guest sees now (devices plugged in or out meanwhile)
while read -r line; do
  for n in /sys/class/net/eth*; do [ -e "$n" ] && ip link set $(basename $n) up 2>/dev/null; done
  sleep 1
  echo "VK block-$line $(ls /sys/block | tr '\\n' ' ')"
  echo "VK net-$line $(ls /sys/class/net | tr '\\n' ' ')"
  echo "VK hwrng-$line $(cat /sys/class/misc/hw_random/rng_available 2>/dev/null)"
  echo "VK vport-$line $(for p in /sys/class/virtio-ports/*; do cat $p/name 2>/dev/null; done | tr '\\n' ' ')"
  echo "VK carrier-$line $(cat /sys/class/net/eth*/carrier 2>/dev/null | tr '\\n' ' ')"
done`
    : ''
}${
  shell
    ? `# run each line typed as a command (the tests' own steps), its exit status after it
while read -r line; do eval "$line"; echo "VK done $?"; done`
    : ''
}
if [ -n "$pw" ]; then
  # one input_event is 24 bytes on x86_64; evdev refuses shorter reads
  dd if=$pw of=/dev/null bs=24 count=1 2>/dev/null
  echo "VK power-button"
fi
sync
poweroff -f
`;
}

/** The agent's host name and os-release, what a test expects the agent to report. */
export const AGENT_GUEST = {
  hostname: 'vk-agent-guest',
  osRelease: 'ID=virtkit-tiny\nNAME="virtkit tiny"\nVERSION_ID=1\n',
};

// qemu-ga on its port (no udev: the port is found by name in sysfs); its shutdown runs /sbin/shutdown
const AGENT_START = `hostname ${AGENT_GUEST.hostname}
for i in 1 2 3 4 5 6 7 8 9 10; do
  for p in /sys/class/virtio-ports/*; do
    [ "$(cat $p/name 2>/dev/null)" = org.qemu.guest_agent.0 ] && ga=/dev/$(basename $p)
  done
  [ -n "$ga" ] && break
  sleep 1
done
echo "VK agent-port \${ga:-none}"
[ -n "$ga" ] && /bin/qemu-ga -m virtio-serial -p $ga -t /tmp &
`;

/** qemu-ga and the shared libraries `ldd` names for it, at their own paths, with /sbin/shutdown. */
function agentEntries(): CpioEntry[] {
  const libs = execFileSync('ldd', [QEMU_GA], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /(\/\S+) \(0x/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined);
  const dirs = new Set(
    libs
      .map((l) => l.slice(1, l.lastIndexOf('/')))
      .flatMap((d) => d.split('/').map((_, i, a) => a.slice(0, i + 1).join('/'))),
  );
  const shutdown = '#!/bin/sh\ncase "$*" in *-r*) reboot -f ;; *) poweroff -f ;; esac\n';
  return [
    ...[...dirs, 'sbin', 'etc'].filter((d) => d !== 'lib').map((name) => ({ name, mode: S_IFDIR | 0o755 })),
    { name: 'bin/qemu-ga', mode: S_IFREG | 0o755, data: readFileSync(QEMU_GA) },
    ...libs.map((l) => ({ name: l.slice(1), mode: S_IFREG | 0o755, data: readFileSync(l) })),
    { name: 'sbin/shutdown', mode: S_IFREG | 0o755, data: Buffer.from(shutdown) },
    { name: 'sbin/hwclock', mode: S_IFLNK | 0o777, data: Buffer.from('/bin/busybox') },
    { name: 'etc/os-release', mode: S_IFREG | 0o644, data: Buffer.from(AGENT_GUEST.osRelease) },
  ];
}

/** The guest agent binary `agent: true` copies in (Debian's qemu-guest-agent). */
export const QEMU_GA = '/usr/sbin/qemu-ga';

export interface TinyLinux {
  readonly kernel: Kernel;
  readonly initrd: string;
  readonly plan: ModulePlan;
}

/**
 * Builds (or takes from the cache in `cacheDir`, keyed by kernel version and
 * share tag) the initramfs for `kernel`.
 */
export function buildTinyLinux(
  kernel: Kernel,
  opts: {
    share?: string;
    cacheDir?: string;
    echo?: boolean;
    agent?: boolean;
    hotplug?: boolean;
    /** Runs each line typed on the console as a shell command, then says `VK done <status>`. */
    shell?: boolean;
    /** Ask for a DHCP lease on eth0 before the report ends (`VK dhcp` lines). */
    dhcp?: boolean;
  } = {},
): TinyLinux {
  const cacheDir = opts.cacheDir ?? join(tmpdir(), `vk-tiny-linux-${process.pid}`);
  mkdirSync(cacheDir, { recursive: true });
  const plan = planModules(kernel);
  const echo = `${opts.echo ? '-echo' : ''}${opts.agent ? '-agent' : ''}${opts.hotplug ? '-hotplug' : ''}${opts.shell ? '-shell' : ''}${opts.dhcp ? '-dhcp' : ''}`;
  const initrd = join(cacheDir, `initramfs-${kernel.version}-${opts.share ?? 'noshare'}${echo}.cpio.gz`);
  if (existsSync(initrd)) return { kernel, initrd, plan };
  const dir = (name: string): CpioEntry => ({ name, mode: S_IFDIR | 0o755 });
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'proc', 'sys', 'mnt', 'tmp', 'lib', 'lib/modules'].map(dir),
    { name: 'dev/console', mode: S_IFCHR | 0o600, rdev: [5, 1] },
    { name: 'bin/busybox', mode: S_IFREG | 0o755, data: readFileSync(BUSYBOX) },
    { name: 'bin/sh', mode: S_IFLNK | 0o777, data: Buffer.from('busybox') },
    ...plan.load.map((m) => ({ name: `lib/modules/${m.file}`, mode: S_IFREG | 0o644, data: m.data })),
    {
      name: 'init',
      mode: S_IFREG | 0o755,
      data: Buffer.from(
        initScript(
          plan.load.map((m) => m.file.slice(0, -3)),
          opts.share,
          opts.echo,
          opts.agent,
          opts.hotplug,
          opts.shell,
          opts.dhcp,
        ),
      ),
    },
    ...(opts.agent ? agentEntries() : []),
  ];
  writeFileSync(initrd, gzipSync(cpio(entries)));
  return { kernel, initrd, plan };
}
