/**
 * `<filesystem>`: host directories shared with the guest, in libvirt's
 * three ways. 9p (`path`/`handle` drivers, or none) is an `-fsdev` backend
 * plus a virtio-9p device; virtiofs is a vhost-user-fs device talking to a
 * virtiofsd daemon over a UNIX socket; MTP is a usb-mtp device QEMU serves
 * itself. Every option the definition can carry either reaches QEMU (or,
 * for virtiofs, is left for the daemon, see `virtiofsSocketPath`) or is
 * refused, naming the field.
 *
 * @module
 */
import type { FilesystemDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { ArgvBuilder } from './argv-builder.js';
import { firstVirtioOption, type Props, pciProps, virtioDriverProps, virtioModel } from './device-props.js';
import { checkValue, optList, optValue } from './escape.js';
import type { CommandLinePaths } from './types.js';
import type { UsbAddrFn } from './usb-addresses.js';
import { requireSharedMemory, vhostUserChardevId } from './vhost-user.js';

/** The prefix of a 9p share's `-fsdev` id (`fsdev-fs0`). */
const FSDEV_PREFIX = 'fsdev-';

/**
 * The UNIX socket a virtiofs share's daemon listens on and QEMU connects
 * to: the definition's `<source socket>` when someone else runs the daemon,
 * else `fs<N>-fs.sock` in the domain's private directory. Whoever starts
 * virtiofsd for the share calls this too, so both ends agree.
 */
export function virtiofsSocketPath(fs: FilesystemDef, index: number, domainDir: string): string {
  return fs.source?.socket ?? `${domainDir}/fs${index}-fs.sock`;
}

/** The driver QEMU serves a share with: 9p unless virtiofs or MTP is asked for. */
function kindOf(fs: FilesystemDef): '9p' | 'virtiofs' | 'mtp' | 'image' {
  const t = fs.driver?.type;
  if (t === 'virtiofs') return 'virtiofs';
  if (t === 'mtp') return 'mtp';
  if (t === 'loop' || t === 'nbd' || t === 'ploop') return 'image';
  return '9p';
}

export function buildFilesystems(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  paths: CommandLinePaths,
  usbAddr: UsbAddrFn,
): void {
  // The guest mounts a virtiofs share by its tag: two with one tag could not be told apart.
  const virtiofsTags = new Set<string>();
  for (const [i, fs] of (def.devices?.filesystems ?? []).entries()) {
    const field = `/domain/devices/filesystem[${i + 1}]`;
    const alias = `fs${i}`;
    const kind = kindOf(fs);
    checkFilesystem(def, fs, kind, field);
    if (kind === 'virtiofs') {
      const t = fs.target?.dir ?? '';
      if (virtiofsTags.has(t))
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          `${field}: filesystem target '${t}' is given twice`,
          {
            field: `${field}/target/@dir`,
          },
        );
      virtiofsTags.add(t);
    }
    const tag = checkValue(fs.target?.dir ?? '', `${field}/target/@dir`);
    if (kind === 'mtp') {
      const p: Props = {
        driver: 'usb-mtp',
        id: alias,
        rootdir: checkValue(fs.source?.dir ?? '', `${field}/source/@dir`),
        desc: tag,
        readonly: fs.readonly !== undefined,
        ...usbAddr(fs),
      };
      b.props('-device', p, field);
      continue;
    }
    const device: Props = {
      driver: virtioModel(kind === 'virtiofs' ? 'vhost-user-fs-pci' : 'virtio-9p-pci', fs.model),
      ...virtioDriverProps(fs.driver),
      id: alias,
    };
    if (kind === 'virtiofs') {
      const chardev = vhostUserChardevId(alias);
      const socket = paths.virtiofsSockets?.[i] ?? virtiofsSocketPath(fs, i, paths.domainDir);
      b.add('-chardev', `socket,id=${chardev},path=${optValue(socket, `${field}/source/@socket`)}`);
      device.chardev = chardev;
      if (fs.driver?.queue !== undefined) device['queue-size'] = fs.driver.queue;
      device.tag = tag;
      if (fs.boot) device.bootindex = fs.boot.order;
    } else {
      b.add('-fsdev', fsdevOption(fs, alias, field));
      device.fsdev = `${FSDEV_PREFIX}${alias}`;
      device.mount_tag = tag;
    }
    b.props('-device', { ...device, ...pciProps(fs.address, facts) }, field);
  }
}

/** libvirt's 9p security models by access mode (`squash` is QEMU's `none`). */
const SECURITY_MODELS = { passthrough: 'passthrough', mapped: 'mapped', squash: 'none' } as const;

/** The `-fsdev` option of a 9p share: backend, permissions model, modes, write policy, id, path. */
function fsdevOption(fs: FilesystemDef, alias: string, field: string): string {
  const items: Array<string | undefined> = [];
  if (fs.driver?.type === 'handle') items.push('handle');
  else {
    items.push('local');
    if (fs.accessmode && fs.accessmode !== 'default')
      items.push(`security_model=${SECURITY_MODELS[fs.accessmode]}`);
    if (fs.multidevs && fs.multidevs !== 'default') items.push(`multidevs=${fs.multidevs}`);
    if (fs.fmode) items.push(`fmode=${fs.fmode.toString(8).padStart(4, '0')}`);
    if (fs.dmode) items.push(`dmode=${fs.dmode.toString(8).padStart(4, '0')}`);
  }
  if (fs.driver?.wrpolicy) items.push(`writeout=${fs.driver.wrpolicy}`);
  items.push(`id=${FSDEV_PREFIX}${alias}`);
  items.push(`path=${optValue(fs.source?.dir ?? '', `${field}/source/@dir`)}`);
  if (fs.readonly !== undefined) items.push('readonly');
  return optList(items);
}

/** What QEMU cannot do with a share, or what the definition asks that virtkit does not write: refused. */
function checkFilesystem(
  def: DomainDef,
  fs: FilesystemDef,
  kind: ReturnType<typeof kindOf>,
  field: string,
): void {
  const refuse = (what: string, at: string): never => {
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: ${what}`, { field: `${field}${at}` });
  };
  if ((fs.type ?? 'mount') !== 'mount')
    refuse(`only type 'mount' filesystems are supported by QEMU`, '/@type');
  if (fs.spaceHardLimit || fs.spaceSoftLimit)
    refuse(
      'filesystem usage limits are not supported by QEMU',
      fs.spaceHardLimit ? '/space_hard_limit' : '/space_soft_limit',
    );
  if (kind === 'image') refuse(`driver type '${fs.driver?.type}' is not supported by QEMU`, '/driver/@type');
  if (fs.target?.dir === undefined) refuse('a filesystem needs a target dir', '/target/@dir');
  if (fs.driver?.format !== undefined)
    refuse('a driver format has no meaning for this filesystem', '/driver/@format');
  // The source of a socket-served virtiofs share is the daemon's business, not QEMU's.
  const socketServed = kind === 'virtiofs' && fs.source?.socket !== undefined;
  if (!socketServed && fs.source?.dir === undefined)
    refuse('a filesystem needs a source dir', '/source/@dir');
  if (!socketServed && fs.source?.socket !== undefined)
    refuse('only a virtiofs share can be served through a socket', '/source/@socket');
  if (kind !== 'virtiofs') {
    for (const [name, at] of [
      ['binary', '/binary'],
      ['idmap', '/idmap'],
    ] as const)
      if (fs[name] !== undefined) refuse(`<${name}> is for virtiofs shares only`, at);
    if (fs.driver?.queue !== undefined) refuse('a queue size is for virtiofs shares only', '/driver/@queue');
    if (fs.boot) refuse('a boot order is for virtiofs shares only', '/boot');
  }
  if ((fs.fmode || fs.dmode) && (kind !== '9p' || fs.accessmode !== 'mapped'))
    refuse("fmode and dmode need a 9p share with accessmode='mapped'", fs.fmode ? '/@fmode' : '/@dmode');
  if (kind !== '9p' && fs.multidevs !== undefined && fs.multidevs !== 'default')
    refuse('multidevs is for 9p shares only', '/@multidevs');
  if (kind === '9p') {
    if (fs.driver?.type === 'handle' && fs.accessmode !== 'passthrough')
      refuse("the handle driver supports only accessmode='passthrough'", '/@accessmode');
    if (fs.address !== undefined && fs.address.type !== 'pci')
      refuse('a 9p share sits on PCI', '/address/@type');
    return;
  }
  if (kind === 'mtp') {
    if (fs.accessmode !== 'passthrough') refuse("mtp supports only accessmode='passthrough'", '/@accessmode');
    if (fs.driver?.wrpolicy !== undefined) refuse('mtp has no write policy', '/driver/@wrpolicy');
    if (fs.model !== undefined) refuse('mtp is not a virtio device', '/@model');
    const opt = firstVirtioOption(fs.driver);
    if (opt) refuse('mtp is not a virtio device', `/driver/@${opt}`);
    if (fs.address !== undefined && fs.address.type !== 'usb')
      refuse('an mtp share sits on USB', '/address/@type');
    return;
  }
  // virtiofs
  if (fs.driver?.wrpolicy !== undefined) refuse('virtiofs has no write policy', '/driver/@wrpolicy');
  if (!socketServed) {
    if (fs.accessmode !== 'passthrough')
      refuse("virtiofs supports only accessmode='passthrough'", '/@accessmode');
  } else if (fs.binary !== undefined || fs.idmap !== undefined)
    refuse(
      'the daemon of a socket-served share is started by someone else',
      fs.binary ? '/binary' : '/idmap',
    );
  if (fs.model !== undefined) refuse('virtiofs has no transitional models', '/@model');
  if (fs.address !== undefined && fs.address.type !== 'pci')
    refuse('a virtiofs share sits on PCI', '/address/@type');
  if (fs.boot?.loadparm !== undefined) refuse('a virtiofs boot entry takes no loadparm', '/boot/@loadparm');
  requireSharedMemory(def, 'virtiofs', field);
}
