/**
 * `-chardev`: the host end of a character device, for every backend type
 * libvirt's QEMU driver knows, with what must come before it on the
 * command line (the TLS credentials object, `-add-fd` for files the
 * caller opened).
 *
 * QEMU's `-chardev` takes no JSON, so every user string is comma-escaped
 * for its key=value parser. `tcp` and `unix` are libvirt's names; QEMU
 * calls both `socket` (it has no `tcp` or `unix` backend).
 *
 * @module
 */
import type { ChardevSource, ChardevType } from '../../../conf/domain/devices/index.js';
import { VirError } from '../../../errors.js';
import type { ArgvBuilder } from './argv-builder.js';
import type { Props } from './device-props.js';
import { checkValue, optList, optValue } from './escape.js';
import { secretObjectProps } from './secret-objects.js';
import type { CommandLinePaths } from './types.js';

/** The backend part of a device built on a character device. */
export interface ChardevBackend {
  type: ChardevType;
  sources?: ChardevSource[];
  protocol?: { type: string };
  log?: { file: string; append?: boolean };
}

export interface ChardevContext {
  b: ArgvBuilder;
  paths: CommandLinePaths;
  /** QEMU's version number (`9_002_000`): `reconnect-ms` replaced `reconnect` in 9.2. */
  qemuVersion: number;
}

/** spicevmc channel names (the `name` of a `spicevmc` chardev) by the device using it. */
export type SpicevmcName = 'vdagent' | 'smartcard' | 'usbredir';

/** Where the TLS certificates of chardev TCP backends live (libvirt's default `chardev_tls_x509_cert_dir`). */
export const CHARDEV_TLS_DIR = '/etc/pki/libvirt-chardev';

/**
 * Writes `-chardev` (and what it needs first) for `c` under `id`
 * (`charserial0`); `devAlias` (`serial0`) names the descriptors passed for it.
 */
export function buildChardev(
  ctx: ChardevContext,
  c: ChardevBackend,
  id: string,
  devAlias: string,
  field: string,
  spicevmc: SpicevmcName = 'vdagent',
): void {
  const { b } = ctx;
  const sources = c.sources ?? [];
  const src = sources[0];
  const v = (s: string | undefined, f: string) => optValue(s ?? '', `${field}/${f}`);
  const items: Array<string | undefined> = [];
  let type: string = c.type;
  switch (c.type) {
    case 'null':
    case 'vc':
    case 'pty':
    case 'stdio':
      break;
    case 'file': {
      const path = need(src?.path, field, 'source/@path');
      const fd = fileDescriptor(ctx, path, src?.append ?? false, devAlias, 'source', `${field}/source/@path`);
      if (fd !== undefined) items.push(`path=${fd}`, 'append=on');
      else {
        items.push(`path=${v(path, 'source/@path')}`);
        if (src?.append !== undefined) items.push(`append=${src.append ? 'on' : 'off'}`);
      }
      break;
    }
    case 'pipe':
    case 'dev':
      if (c.type === 'dev') type = id.startsWith('charparallel') ? 'parallel' : 'serial';
      items.push(`path=${v(need(src?.path, field, 'source/@path'), 'source/@path')}`);
      break;
    case 'unix': {
      type = 'socket';
      const path = need(src?.path, field, 'source/@path');
      const listen = src?.mode === 'bind';
      const fd = listen ? ctx.paths.chardevFds?.unixListen(path) : undefined;
      if (fd !== undefined) items.push(`fd=${fd}`);
      else items.push(`path=${v(path, 'source/@path')}`);
      if (listen) items.push('server=on', 'wait=off');
      // A socket libvirt listened on itself cannot reconnect: the option is left out then.
      if (fd === undefined) items.push(reconnect(ctx, src, field));
      break;
    }
    case 'tcp': {
      type = 'socket';
      const listen = src?.mode === 'bind';
      items.push(
        `host=${v(need(src?.host, field, 'source/@host'), 'source/@host')}`,
        `port=${v(need(src?.service, field, 'source/@service'), 'source/@service')}`,
      );
      if (c.protocol?.type === 'telnet') items.push('telnet=on');
      else if (c.protocol?.type === 'telnets' || c.protocol?.type === 'tls')
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `chardev protocol '${c.protocol.type}'`, {
          field: `${field}/protocol/@type`,
        });
      if (listen) items.push('server=on', 'wait=off');
      items.push(reconnect(ctx, src, field));
      // Without tls='yes|no' the driver's chardev_tls setting decides.
      if (src?.tls ?? ctx.paths.chardevTls?.enabled ?? false)
        items.push(`tls-creds=${tlsCreds(ctx, id, listen, field)}`);
      break;
    }
    case 'udp': {
      // Two sources: the remote end (connect) and an optional local one (bind).
      const remote = sources.find((s) => s.mode !== 'bind');
      const local = sources.find((s) => s.mode === 'bind');
      items.push(
        `host=${v(remote?.host, 'source/@host')}`,
        `port=${v(need(remote?.service, field, 'source/@service'), 'source/@service')}`,
        `localaddr=${v(local?.host, 'source/@host')}`,
        `localport=${v(local?.service ?? '0', 'source/@service')}`,
      );
      break;
    }
    case 'spicevmc':
      items.push(`name=${spicevmc}`);
      break;
    case 'spiceport':
      items.push(`name=${v(need(src?.channel, field, 'source/@channel'), 'source/@channel')}`);
      break;
    case 'dbus':
      items.push(`name=${v(need(src?.channel, field, 'source/@channel'), 'source/@channel')}`);
      break;
    case 'qemu-vdagent':
      items.push('name=vdagent');
      if (src?.clipboard) items.push(`clipboard=${src.clipboard.copypaste ? 'on' : 'off'}`);
      if (src?.mouse) items.push(`mouse=${src.mouse.mode === 'client' ? 'on' : 'off'}`);
      break;
    default:
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `character device type '${c.type}' is not supported`, {
        field: `${field}/@type`,
      });
  }
  if (c.log) {
    const f = `${field}/log/@file`;
    const fd = fileDescriptor(ctx, c.log.file, c.log.append ?? false, devAlias, 'log', f);
    if (fd !== undefined) items.push(`logfile=${fd}`, 'logappend=on');
    else {
      items.push(`logfile=${optValue(c.log.file, f)}`);
      if (c.log.append !== undefined) items.push(`logappend=${c.log.append ? 'on' : 'off'}`);
    }
  }
  b.add('-chardev', optList([type, `id=${id}`, ...items]));
}

/**
 * The x509 credentials of a TLS chardev (and the secret of their key's
 * password when the driver has one): a client always checks the server's
 * certificate, a server checks clients' as chardev_tls_x509_verify says.
 */
function tlsCreds(ctx: ChardevContext, id: string, listen: boolean, field: string): string {
  const cfg = ctx.paths.chardevTls ?? {};
  const f = `${field}/source/@tls`;
  const tlsId = `obj${id}_tls0`;
  const creds: Props = {
    'qom-type': 'tls-creds-x509',
    id: tlsId,
    dir: checkValue(cfg.dir ?? CHARDEV_TLS_DIR, 'paths.chardevTls.dir'),
    endpoint: listen ? 'server' : 'client',
    'verify-peer': listen ? (cfg.verifyPeer ?? true) : true,
  };
  if (cfg.secretUuid !== undefined) {
    const secretId = `${id}-secret0`;
    ctx.b.props('-object', secretObjectProps(secretId, { uuid: cfg.secretUuid }, ctx.paths.secrets, f), f);
    creds.passwordid = secretId;
  }
  ctx.b.props('-object', creds, f);
  return tlsId;
}

function need(value: string | undefined, field: string, what: string): string {
  if (value === undefined || value === '')
    throw new VirError('XML_DETAIL', 'qemu', `${field}: missing ${what}`, { field: `${field}/${what}` });
  return value;
}

/** `reconnect-ms=` (QEMU 9.2 and later) or `reconnect=` from `<reconnect>`; `enabled='no'` is 0. */
function reconnect(ctx: ChardevContext, src: ChardevSource | undefined, field: string): string | undefined {
  const r = src?.reconnect;
  if (!r) return undefined;
  // QEMU refuses to start a listening socket that reconnects.
  if (src?.mode === 'bind')
    throw new VirError('XML_DETAIL', 'qemu', `${field}: reconnect needs a source in connect mode`, {
      field: `${field}/source/reconnect`,
    });
  const secs = r.enabled ? (r.timeout ?? 0) : 0;
  return ctx.qemuVersion >= 9_002_000 ? `reconnect-ms=${secs * 1000}` : `reconnect=${secs}`;
}

/**
 * When the caller opens chardev files for QEMU (as libvirt does, so QEMU
 * needs no access to the host path), the descriptor goes into an fd set
 * and the chardev names `/dev/fdset/N`; the caller already opened it for
 * appending or truncated it, so QEMU always appends.
 */
function fileDescriptor(
  ctx: ChardevContext,
  path: string,
  append: boolean,
  devAlias: string,
  role: 'source' | 'log',
  field: string,
): string | undefined {
  const opener = ctx.paths.chardevFds;
  if (!opener) return undefined;
  optValue(path, field);
  const fd = opener.file(path, append, role);
  const set = ctx.b.nextFdset();
  ctx.b.add('-add-fd', `set=${set},fd=${fd},opaque=${optValue(`${devAlias}-${role}`, field)}`);
  return `/dev/fdset/${set}`;
}
