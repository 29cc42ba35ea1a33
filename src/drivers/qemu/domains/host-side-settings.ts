/**
 * What a start refuses because nothing would carry it out.
 *
 * Settings libvirt applies on the host side, outside QEMU's command line:
 * cgroup limits and weights (`<cputune>`, `<memtune>`, `<blkiotune>`,
 * `<resource>`), CPU affinity and schedulers of the QEMU threads (`<vcpu
 * cpuset>`, `<cputune>` pins), automatic NUMA placement by numad, security
 * labels (`<seclabel>`, per device too), perf events, user-namespace maps
 * (`<idmap>`), lock-manager leases (`<lease>`), the detach/reattach of
 * managed host devices other than PCI functions bound to vfio-pci (those
 * are `host-devices-start.ts`'s), and what libvirt does
 * around a NIC's tap or port (traffic shaping, VLANs, virtual ports, port
 * isolation, coalescing, up/down scripts, port groups of a virtual network,
 * the MAC of a host VF, an existing tap, RX filters followed on the host).
 * virtkit's QEMU driver does none of these yet.
 *
 * Settings libvirt accepts but QEMU has no option for (the catch-up rates
 * of a timer, an HPET tick policy, the video memory of a Cirrus card, the
 * virtio options of a vhost-user video), and XML the model does not know
 * and keeps only for the round trip. A guest asking for any of them would
 * start without it and nobody would know, so the start is refused instead,
 * naming the first such field (never silently dropped).
 *
 * Everything a refusal looks at is read in full (the "consumed or refused"
 * check watches what the start reads).
 *
 * @module
 */
import { unknownContent } from '../../../conf/binding.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import { machineFacts } from '../../../machine/machine-types.js';
import type { XmlElement, XmlNode } from '../../../xml/tree.js';

export interface HostSideSetting {
  /** XPath-like field of the definition. */
  field: string;
  /** What libvirt would do with it. */
  what: string;
  /**
   * `host` (default): libvirt applies it on the host; `no-option`: QEMU has no
   * option for it; `unknown`: XML the model does not know.
   */
  kind?: 'host' | 'no-option' | 'unknown';
}

/** True when `v` holds any value at all, its kept unknown XML included (reading every one of them). */
function holdsAnything(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'object') return true;
  let any = false;
  for (const x of Object.values(v)) if (holdsAnything(x)) any = true;
  const kept = unknownContent(v);
  if (kept && holdsAnything(kept)) any = true;
  return any;
}

function attrValue(el: XmlElement, name: string): string | undefined {
  let found: string | undefined;
  // every attribute is looked at, so a refusal reads all of them
  for (const a of el.attrs) if (a.name === name) found = a.value;
  return found;
}

function elements(nodes: readonly XmlNode[]): XmlElement[] {
  return nodes.filter((n): n is XmlElement => n.type === 'element');
}

/** Elements of the unknown XML `owner` keeps (attributes too, as `@name`), with their XPath-ish step. */
function keptXml(owner: object | undefined): Array<{ step: string; node?: XmlElement; value?: unknown }> {
  const kept = owner ? unknownContent(owner) : undefined;
  if (!kept) return [];
  const out: Array<{ step: string; node?: XmlElement; value?: unknown }> = [];
  for (const a of kept.attrs) out.push({ step: `@${a.name}`, value: a });
  const count = new Map<string, number>();
  for (const n of kept.nodes) {
    const node = n.node;
    if (node.type !== 'element') {
      if (holdsAnything(node) && node.type === 'text' && node.value.trim() !== '')
        out.push({ step: 'text()', value: node });
      continue;
    }
    const k = (count.get(node.name) ?? 0) + 1;
    count.set(node.name, k);
    out.push({ step: `${node.name}[${k}]`, node });
  }
  return out;
}

/**
 * A security label asks for labelling unless it is of model/type none, or
 * a per-device label that only says not to relabel (virtkit never relabels).
 */
function labelAsks(s: XmlElement, perDevice: boolean): boolean {
  const type = attrValue(s, 'type');
  const model = attrValue(s, 'model');
  const relabel = attrValue(s, 'relabel');
  const others = holdsAnything(
    s.attrs.filter((a) => a.name !== 'type' && a.name !== 'model' && a.name !== 'relabel'),
  );
  const content = holdsAnything(s.children);
  if (perDevice) return (relabel !== 'no' && model !== 'none') || others || content;
  return (
    type !== 'none' || (model !== undefined && model !== 'none') || relabel === 'yes' || others || content
  );
}

/**
 * What the disk builder reads from a disk's `<source>` although the model
 * keeps it as XML (command-line/disk-layers.ts and disk-network.ts read the
 * source as XML): everything else there is refused.
 */
const DISK_SOURCE_XML = new Set([
  'auth',
  'encryption',
  'cookies',
  'config',
  'dataStore',
  'identity',
  'initiator',
  'knownHosts',
  'nfs',
  'readahead',
  'reservations',
  'slices',
  'snapshot',
  'ssl',
  'timeout',
  '@query',
  '@tls',
  '@tlsHostname',
]);

/** What the disk builder reads from a `<disk>` the model keeps as XML (its credentials). */
const DISK_XML = new Set(['auth', 'encryption']);

/** Per-device labels inside a disk's `<source>` and its backing chain (kept as XML), and unknown XML there. */
function diskLabels(
  d: NonNullable<NonNullable<DomainDef['devices']>['disks']>[number],
  field: string,
  add: (field: string, what: string, kind?: HostSideSetting['kind']) => void,
): void {
  for (const k of keptXml(d.source)) {
    if (k.node?.name === 'seclabel') {
      if (labelAsks(k.node, true)) add(`${field}/source/${k.step}`, 'a security label of the disk image');
    } else if (!DISK_SOURCE_XML.has(k.node?.name ?? k.step)) {
      holdsAnything(k.node ?? k.value);
      add(`${field}/source/${k.step}`, 'XML the model does not know', 'unknown');
    }
  }
  let at = `${field}/backingStore`;
  for (let bs: XmlElement | undefined = d.backingStore; bs; at += '/backingStore') {
    const children = elements(bs.children);
    for (const src of children.filter((c) => c.name === 'source'))
      for (const [j, s] of elements(src.children)
        .filter((c) => c.name === 'seclabel')
        .entries())
        if (labelAsks(s, true)) add(`${at}/source/seclabel[${j + 1}]`, 'a security label of a backing image');
    bs = children.find((c) => c.name === 'backingStore');
  }
}

/** The interface types whose tap virtkit makes as root, where `<bandwidth>` is applied. */
const SHAPED_TYPES = new Set(['bridge', 'network', 'ethernet']);

/** What libvirt does on the host around one NIC. */
function interfaceSettings(
  n: NonNullable<NonNullable<DomainDef['devices']>['interfaces']>[number],
  field: string,
  add: (field: string, what: string, kind?: HostSideSetting['kind']) => void,
): void {
  const kept = keptXml(n);
  // a host VF given with managed='yes' is detached from its host driver first, as a hostdev is
  const managed = n.type === 'hostdev' ? kept.find((k) => k.step === '@managed') : undefined;
  if (managed && holdsAnything(managed.value) && (managed.value as { value?: string }).value === 'yes')
    add(`${field}/@managed`, "detaching the host device from its driver (managed='yes')");
  if (n.script?.path !== undefined) add(`${field}/script/@path`, "running the interface's script on its tap");
  if (n.downscript?.path !== undefined)
    add(`${field}/downscript/@path`, "running the interface's down script when the guest stops");
  if (n.source?.portgroup !== undefined)
    add(`${field}/source/@portgroup`, "the virtual network's port group (its VLAN, bandwidth, virtual port)");
  // traffic shaping is tc on a tap virtkit made (lifecycle/tap-bandwidth.ts); a floor is the network's QoS
  const bw = n.bandwidth;
  if (bw?.inbound?.floor !== undefined || bw?.outbound?.floor !== undefined)
    add(
      `${field}/bandwidth/${bw.inbound?.floor !== undefined ? 'inbound' : 'outbound'}/@floor`,
      "a guaranteed floor in the network's QoS",
    );
  else if (bw && !(SHAPED_TYPES.has(n.type) && process.getuid?.() === 0))
    add(
      `${field}/bandwidth`,
      n.type === 'user' || !SHAPED_TYPES.has(n.type)
        ? `traffic shaping (tc) of an interface of type '${n.type}', which has no tap`
        : 'traffic shaping (tc) of a tap qemu-bridge-helper makes (unprivileged)',
    );
  if (n.coalesce?.rx?.frames?.max !== undefined)
    add(`${field}/coalesce`, 'interrupt coalescing of the host tap (ethtool)');
  if (n.target?.managed === false) add(`${field}/target/@managed`, "using an existing tap (managed='no')");
  // not trusting the guest is what happens anyway: no RX filter change reaches the host
  if (n.trustGuestRxFilters === true)
    add(`${field}/@trustGuestRxFilters`, "following the guest's RX filter changes on the host device");
  if (n.type === 'hostdev' && n.mac?.address !== undefined)
    add(`${field}/mac/@address`, 'setting the MAC address of the host VF');
  const WHAT: Record<string, string> = {
    bandwidth: 'traffic shaping (tc)',
    vlan: 'VLAN tagging on the host',
    virtualport: 'a virtual port (Open vSwitch, 802.1Qbg/h, MidoNet)',
    port: 'isolating the bridge port',
  };
  for (const k of kept) {
    if (k === managed) continue;
    const what = k.node ? WHAT[k.node.name] : undefined;
    holdsAnything(k.node ?? k.value);
    add(`${field}/${k.step}`, what ?? 'XML the model does not know', what ? 'host' : 'unknown');
  }
  for (const k of keptXml(n.source)) {
    // a host VF's PCI address, which the command line reads (hostdevs.ts)
    if (k.node?.name === 'address' && n.type === 'hostdev') continue;
    holdsAnything(k.node ?? k.value);
    add(`${field}/source/${k.step}`, 'XML the model does not know', 'unknown');
  }
}

/**
 * Unknown XML of `owner`. Its `<alias>`: one the command line takes as the
 * device's id (`aliasUsed`) is read there; a user alias (`ua-…`) of a device
 * whose id virtkit does not take from it would be dropped, so it is refused;
 * any other alias is libvirt's own name of a running device, which libvirt's
 * define ignores.
 */
function refuseKept(
  owner: object | undefined,
  field: string,
  add: (field: string, what: string, kind?: HostSideSetting['kind']) => void,
  aliasUsed = false,
  readElsewhere: ReadonlySet<string> = new Set(),
): void {
  for (const k of keptXml(owner)) {
    if (k.node && readElsewhere.has(k.node.name)) continue;
    if (k.node?.name === 'alias') {
      if (aliasUsed) continue;
      if (attrValue(k.node, 'name')?.startsWith('ua-'))
        add(
          `${field}/alias/@name`,
          "a user alias as the device's QEMU id, which virtkit does not give this device yet",
          'no-option',
        );
      continue;
    }
    holdsAnything(k.node ?? k.value);
    add(`${field}/${k.step}`, 'XML the model does not know', 'unknown');
  }
}

/**
 * Controllers whose user alias the command line reads: USB controllers (their
 * id), companions and the machine's own buses and AHCI (no id of their own).
 */
function controllerAliasUsed(
  c: NonNullable<NonNullable<DomainDef['devices']>['controllers']>[number],
  q35: boolean,
): boolean {
  if (c.type === 'usb') return true;
  if (c.type === 'pci') return c.model === 'pci-root' || c.model === 'pcie-root';
  return c.type === 'sata' && q35 && (c.index ?? 0) === 0;
}

/** libvirt's default video memory of a Cirrus card, which it never passes to QEMU. */
const CIRRUS_DEFAULT_VRAM_KIB = 16384;

/** Settings QEMU has no option for, and unknown XML, in devices the command line builds. */
function deviceSettings(
  def: DomainDef,
  add: (field: string, what: string, kind?: HostSideSetting['kind']) => void,
): void {
  const dev = def.devices ?? {};
  const q35 = machineFacts(def.os?.type.machine ?? '').family === 'q35';
  for (const [i, d] of (dev.disks ?? []).entries()) {
    const field = `/domain/devices/disk[${i + 1}]`;
    refuseKept(d, field, add, false, DISK_XML);
    diskLabels(d, field, add);
  }
  for (const [i, n] of (dev.interfaces ?? []).entries())
    interfaceSettings(n, `/domain/devices/interface[${i + 1}]`, add);
  for (const [i, c] of (dev.controllers ?? []).entries())
    refuseKept(c, `/domain/devices/controller[${i + 1}]`, add, controllerAliasUsed(c, q35));
  for (const [i, v] of (dev.videos ?? []).entries()) {
    const field = `/domain/devices/video[${i + 1}]`;
    // a 'none' video is no device: nothing is named after its alias
    refuseKept(v, field, add, v.model?.type === 'none');
    // cirrus-vga has QEMU's fixed memory: libvirt fills in 16 MiB and never passes it
    if (v.model?.type === 'cirrus' && v.model.vram !== undefined && v.model.vram !== CIRRUS_DEFAULT_VRAM_KIB)
      add(`${field}/model/@vram`, "the video memory of a Cirrus card (QEMU's is fixed)", 'no-option');
    // libvirt writes a vhost-user VGA without the virtio options (the PCI GPU gets them)
    const drv = v.driver;
    if (drv && attrValue(drv, 'name') === 'vhostuser' && v.model?.primary === true)
      for (const a of drv.attrs)
        if (a.name !== 'name' && a.value !== '')
          add(`${field}/driver/@${a.name}`, 'a virtio option of a vhost-user video', 'no-option');
  }
  for (const [i, t] of (def.clock?.timers ?? []).entries()) {
    const field = `/domain/clock/timer[${i + 1}]`;
    for (const k of keptXml(t)) {
      holdsAnything(k.node ?? k.value);
      if (k.node?.name === 'catchup') add(`${field}/catchup`, 'the catch-up rates of a timer', 'no-option');
      else add(`${field}/${k.step}`, 'XML the model does not know', 'unknown');
    }
    if (t.name === 'hpet' && t.tickpolicy !== undefined)
      add(`${field}/@tickpolicy`, "the HPET's tick policy", 'no-option');
  }
}

/**
 * What the start applies through the guest's cgroups (`tuning-start.ts`),
 * when it places guests in them: `<cputune>`'s shares, periods and quotas,
 * `<memtune>`'s hard, soft and swap limits, `<blkiotune>`.
 */
export interface CgroupConsumed {
  readonly cpu?: boolean;
  readonly memory?: boolean;
  readonly blkio?: boolean;
  /** The refusal of a cgroup setting the host could apply only through cgroup v2, per element. */
  readonly v2?: Partial<Record<'/domain/cputune' | '/domain/memtune' | '/domain/blkiotune', VirError>>;
}

/** The `<cputune>` fields the start applies through cgroups. */
const CPUTUNE_CGROUP_FIELDS = [
  'shares',
  'period',
  'quota',
  'globalPeriod',
  'globalQuota',
  'emulatorPeriod',
  'emulatorQuota',
  'iothreadPeriod',
  'iothreadQuota',
] as const;

/** Every setting of `def` the start refuses, in document order. */
export function hostSideSettings(def: DomainDef, cgroups: CgroupConsumed = {}): HostSideSetting[] {
  const out: HostSideSetting[] = [];
  const add = (field: string, what: string, kind: HostSideSetting['kind'] = 'host') =>
    out.push({ field, what, kind });
  const bt = def.blkiotune;
  if (holdsAnything(bt) && !cgroups.blkio) add('/domain/blkiotune', 'block I/O weights (cgroups)');
  else if (bt && cgroups.blkio) {
    if (holdsAnything(unknownContent(bt))) add('/domain/blkiotune', 'XML the model does not know', 'unknown');
    for (const [i, d] of (bt.devices ?? []).entries())
      if (holdsAnything(unknownContent(d)))
        add(`/domain/blkiotune/device[${i + 1}]`, 'XML the model does not know', 'unknown');
  }
  const mt = def.memtune;
  if (holdsAnything(mt) && !cgroups.memory) add('/domain/memtune', 'memory limits (cgroups)');
  else if (mt && cgroups.memory) {
    // libvirt's QEMU driver has no guaranteed minimum either
    if (mt.minGuarantee) add('/domain/memtune/min_guarantee', 'a guaranteed memory minimum', 'no-option');
    if (holdsAnything(unknownContent(mt))) add('/domain/memtune', 'XML the model does not know', 'unknown');
  }
  if (def.vcpu?.placement === 'auto') add('/domain/vcpu/@placement', 'automatic placement by numad');
  if (def.vcpu?.cpuset !== undefined) add('/domain/vcpu/@cpuset', 'vCPU thread affinity');
  const ct = def.cputune;
  const rest = ct && cgroups.cpu ? Object.assign(Object.create(null) as object, ct) : ct;
  if (rest && cgroups.cpu) for (const f of CPUTUNE_CGROUP_FIELDS) delete (rest as Record<string, unknown>)[f];
  if (holdsAnything(rest) || (ct && cgroups.cpu && holdsAnything(unknownContent(ct))))
    add(
      '/domain/cputune',
      cgroups.cpu
        ? 'CPU pins, schedulers and cache or memory bandwidth allocations (affinity, resctrl)'
        : 'CPU shares, quotas, pins and schedulers (cgroups, affinity)',
    );
  if (holdsAnything(def.resource)) add('/domain/resource', 'a resource partition (cgroups)');
  if (holdsAnything(def.idmap)) add('/domain/idmap', 'user namespace ID maps');
  for (const [i, s] of (def.seclabels ?? []).entries())
    if (labelAsks(s, false)) add(`/domain/seclabel[${i + 1}]`, 'a security label (SELinux, AppArmor, DAC)');
  // managed='yes': a PCI function is bound to vfio-pci before QEMU starts and given back after
  // (host-devices-start.ts); a variant driver <driver model> names is not bound yet, and the
  // other types' managed is libvirt's to carry out, not virtkit's yet
  for (const [i, h] of (def.devices?.hostdevs ?? []).entries())
    if (h.managed === true) {
      const variant = h.driver ? attrValue(h.driver, 'model') : undefined;
      if (h.type === 'pci' && (variant === undefined || variant === 'vfio-pci')) continue;
      add(
        `/domain/devices/hostdev[${i + 1}]/@managed`,
        `detaching the host device from its driver and binding ${variant ?? 'vfio-pci'} (managed='yes')`,
      );
    }
  // <lease> is kept as XML the model does not type: a lock manager (sanlock, lockd) takes it
  for (const [i, n] of (unknownContent(def.devices ?? {})?.nodes ?? [])
    .filter((x) => x.node.type === 'element' && x.node.name === 'lease')
    .entries())
    if (holdsAnything(n.node)) add(`/domain/devices/lease[${i + 1}]`, 'a lock manager lease');
  for (const [i, e] of (def.perf?.events ?? []).entries())
    if (e.name !== '' && e.enabled) add(`/domain/perf/event[${i + 1}]`, 'perf event counters');
  deviceSettings(def, add);
  return out;
}

function message(s: HostSideSetting): string {
  if (s.kind === 'no-option')
    return `${s.field}: ${s.what} has no QEMU option; virtkit refuses it rather than start without it`;
  if (s.kind === 'unknown')
    return `${s.field}: ${s.what}, kept for the round trip, would not reach QEMU; virtkit refuses it rather than start without it`;
  return `${s.field}: ${s.what} is applied by libvirt on the host, which virtkit's QEMU driver does not do yet`;
}

/** Refuses a start that asks for something the driver would not carry out. */
export function refuseHostSideSettings(def: DomainDef, cgroups: CgroupConsumed = {}): void {
  const first = hostSideSettings(def, cgroups)[0];
  const v2 =
    first?.kind === 'host' ? cgroups.v2?.[first.field as keyof NonNullable<CgroupConsumed['v2']>] : undefined;
  if (first && v2)
    throw new VirError(v2.code, 'qemu', `${first.field}: ${first.what}: ${v2.message}`, {
      field: first.field,
    });
  if (first) throw new VirError('CONFIG_UNSUPPORTED', 'qemu', message(first), { field: first.field });
}
