/**
 * `<graphics>`: `-vnc`, `-spice`, `-display` (sdl, egl-headless, dbus),
 * in the definition's order, as libvirt writes them.
 *
 * Passwords never reach the command line: `password=on` (VNC) or leaving
 * ticketing on (SPICE) makes QEMU refuse clients until the password is set
 * over QMP before the guest starts ({@link CommandLine.monitorCommands}).
 * Every user string is comma-escaped for QEMU's key=value parser.
 *
 * @module
 */
import type { GraphicsDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import { driverConfig, type QemuDriverConfig } from '../driver-config.js';
import type { ArgvBuilder } from './argv-builder.js';
import { checkValue, optList, optValue } from './escape.js';
import { rdp } from './rdp.js';
import { secretObjectProps } from './secret-objects.js';
import type { CommandLinePaths } from './types.js';

type GraphicsListen = NonNullable<GraphicsDef['listens']>[number];

export function buildGraphics(b: ArgvBuilder, def: DomainDef, paths: CommandLinePaths): void {
  const dev = def.devices ?? {};
  const cfg = driverConfig(paths.config);
  const firstAudio = dev.audios?.[0]?.id;
  for (const [i, g] of (dev.graphics ?? []).entries()) {
    const field = `/domain/devices/graphics[${i + 1}]`;
    const audioId = g.audio?.id ?? firstAudio;
    if (g.audio && !(dev.audios ?? []).some((a) => a.id === g.audio!.id))
      throw new VirError('XML_DETAIL', 'qemu', `${field}: no <audio> with id ${g.audio.id}`, {
        field: `${field}/audio/@id`,
      });
    switch (g.type) {
      case 'vnc':
        vnc(b, g, field, paths, cfg, audioId);
        break;
      case 'spice':
        spice(b, g, field, paths, cfg);
        break;
      case 'sdl':
        sdl(b, g, field);
        break;
      case 'egl-headless': {
        const node = g.gl?.rendernode ?? paths.renderNode;
        b.add(
          '-display',
          optList(['egl-headless', node && `rendernode=${optValue(node, `${field}/gl/@rendernode`)}`]),
        );
        break;
      }
      case 'dbus':
        dbus(b, g, field, paths, g.audio?.id);
        break;
      case 'rdp':
        // the RDP server is a separate process on QEMU's D-Bus display: QEMU itself gets nothing
        rdp(b, g, dev.graphics ?? [], field, paths);
        continue;
      default:
        // desktop is VirtualBox's, not QEMU's
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          `graphics type '${g.type}' is not supported by QEMU`,
          {
            field: `${field}/@type`,
          },
        );
    }
    setPassword(b, g, field, cfg);
  }
}

function vnc(
  b: ArgvBuilder,
  g: GraphicsDef,
  field: string,
  paths: CommandLinePaths,
  cfg: QemuDriverConfig,
  audioId: number | undefined,
): void {
  const listen = startListen(g.listens?.[0], cfg.vncAutoUnixSocket, cfg.vncListen);
  const items: Array<string | undefined> = [];
  if (listen?.type === 'socket') {
    // No path given: the socket goes into the domain's private directory, as libvirt puts it.
    const sock = listen.socket ?? g.socket ?? `${paths.domainDir}/vnc.sock`;
    items.push(`vnc=unix:${optValue(sock, `${field}/listen/@socket`)}`);
  } else if (listen?.type === 'none') items.push('none');
  else {
    const port = g.port ?? -1;
    if (g.autoport !== true && (port < 5900 || port > 65535))
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: vnc port must be in range [5900,65535]`, {
        field: `${field}/@port`,
      });
    const host = listen?.address ?? g.listen ?? cfg.vncListen;
    const where =
      host === undefined ? '' : optValue(host.includes(':') ? `[${host}]` : host, `${field}/listen/@address`);
    // With autoport the port is chosen when the guest starts; a definition not yet given one listens on :0.
    items.push(`${where}:${port >= 5900 ? port - 5900 : 0}`);
    if (g.websocket !== undefined && g.websocket < 0)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: an automatic websocket port`, {
        field: `${field}/@websocket`,
      });
    if (g.websocket !== undefined && g.websocket !== 0) items.push(`websocket=${g.websocket}`);
  }
  if (g.sharePolicy !== undefined) items.push(`share=${g.sharePolicy}`);
  if (g.passwd !== undefined || cfg.vncPassword !== undefined) items.push('password=on');
  if (cfg.vncTLS) {
    // One server identity for every VNC display, as libvirt names it.
    const id = 'vnc-tls-creds0';
    const creds: Record<string, unknown> = {
      'qom-type': 'tls-creds-x509',
      id,
      dir: checkValue(cfg.vncTLSx509certdir, 'config.vncTLSx509certdir'),
      endpoint: 'server',
      'verify-peer': cfg.vncTLSx509verify,
    };
    if (cfg.vncTLSx509secretUUID !== undefined) {
      // the server key's password, under the master key like every other secret
      b.props(
        '-object',
        secretObjectProps(`${id}-secret0`, { uuid: cfg.vncTLSx509secretUUID }, paths.secrets, field),
        field,
      );
      creds.passwordid = `${id}-secret0`;
    }
    b.props('-object', creds, field);
    items.push(`tls-creds=${id}`);
  }
  if (cfg.vncSASL) {
    items.push('sasl=on');
    if (cfg.vncSASLdir !== undefined) b.env.SASL_CONF_PATH = checkValue(cfg.vncSASLdir, 'config.vncSASLdir');
  }
  if (g.powerControl !== undefined) items.push(`power-control=${g.powerControl ? 'on' : 'off'}`);
  if (audioId === undefined)
    throw new VirError('XML_DETAIL', 'qemu', `${field}: VNC needs an <audio> backend`, { field });
  items.push(`audiodev=audio${audioId}`);
  b.add('-vnc', optList(items));
  keymap(b, g, field);
}

/**
 * The SPICE ports to listen on. With `autoport`, libvirt gives a port to
 * each kind the channels need: plain for `insecure` ones, TLS for
 * `secure` ones, and for the default mode `any` a plain port plus a TLS
 * one when spice_tls is on. A port of -1 is also one to allocate.
 */
function spicePorts(
  g: GraphicsDef,
  cfg: QemuDriverConfig,
  allocatePort: CommandLinePaths['allocateDisplayPort'],
  field: string,
): { port: number; tlsPort: number } {
  let needPort = false;
  let needTls = false;
  if (g.autoport === true) {
    for (const m of [...(g.channels ?? []).map((c) => c.mode), g.defaultMode ?? 'any']) {
      if (m === 'secure') needTls = true;
      else if (m === 'insecure') needPort = true;
    }
    if ((g.defaultMode ?? 'any') === 'any') {
      needPort = true;
      if (cfg.spiceTLS) needTls = true;
    }
  }
  const take = (tls: boolean, what: string): number => {
    if (!allocatePort)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `${field}: no port allocator for an automatic SPICE ${what}`,
        {
          field: `${field}/@autoport`,
        },
      );
    return allocatePort(tls);
  };
  // With autoport, -1 is a placeholder (libvirt resets an autoport display's ports when it reads
  // a persistent definition, so virt-install's port='-1' tlsPort='-1' asks for nothing more); a
  // port the driver already chose for the run (a positive one) is used as it is.
  const chosen = (p: number | undefined) => (p !== undefined && p > 0 ? p : undefined);
  const given = (p: number | undefined) => (g.autoport === true && p === -1 ? 0 : (p ?? 0));
  const port = chosen(g.port) ?? (needPort || given(g.port) === -1 ? take(false, 'port') : given(g.port));
  let tlsPort = chosen(g.tlsPort) ?? given(g.tlsPort);
  if (chosen(g.tlsPort) === undefined && (needTls || tlsPort === -1)) {
    if (!cfg.spiceTLS)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `${field}: an automatic SPICE TLS port needs SPICE TLS configured`,
        { field: `${field}/@tlsPort` },
      );
    tlsPort = take(true, 'TLS port');
  }
  return { port, tlsPort };
}

function spice(
  b: ArgvBuilder,
  g: GraphicsDef,
  field: string,
  paths: CommandLinePaths,
  cfg: QemuDriverConfig,
): void {
  const listen = startListen(g.listens?.[0], cfg.spiceAutoUnixSocket, cfg.spiceListen);
  const items: Array<string | undefined> = [];
  let secure = false;
  let insecure = false;
  if (listen?.type === 'socket') {
    const sock = listen.socket ?? `${paths.domainDir}/spice.sock`;
    items.push('unix=on', `addr=${optValue(sock, `${field}/listen/@socket`)}`);
    insecure = true;
  } else if (listen?.type === 'none' || listen === undefined) {
    // QEMU wants a port or a socket even when nothing listens: port 0 is none.
    items.push('port=0');
    insecure = true;
  } else {
    const { port, tlsPort } = spicePorts(g, cfg, paths.allocateDisplayPort, field);
    if (port > 0) {
      items.push(`port=${port}`);
      insecure = true;
    }
    if (tlsPort > 0) {
      if (!cfg.spiceTLS)
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          `${field}: a SPICE TLS port needs SPICE TLS configured`,
          {
            field: `${field}/@tlsPort`,
          },
        );
      items.push(`tls-port=${tlsPort}`);
      secure = true;
    }
    // libvirt's spice_listen default: only this host.
    const host = listen.address ?? g.listen ?? cfg.spiceListen ?? '127.0.0.1';
    if (port > 0 || tlsPort > 0) items.push(`addr=${optValue(host, `${field}/listen/@address`)}`);
  }
  if (cfg.spiceSASL) {
    items.push('sasl=on');
    if (cfg.spiceSASLdir !== undefined)
      b.env.SASL_CONF_PATH = checkValue(cfg.spiceSASLdir, 'config.spiceSASLdir');
  }
  if (g.mouse) items.push(`agent-mouse=${g.mouse.mode === 'client' ? 'on' : 'off'}`);
  if (g.passwd === undefined && cfg.spicePassword === undefined) items.push('disable-ticketing=on');
  if (secure) items.push(`x509-dir=${optValue(cfg.spiceTLSx509certdir, 'config.spiceTLSx509certdir')}`);
  const mode = (m: string | undefined, name: string, f: string) => {
    if (m === 'secure') {
      if (!secure)
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          `${field}: secure SPICE channel without a TLS port`,
          { field: f },
        );
      items.push(`tls-channel=${name}`);
    } else if (m === 'insecure') {
      if (!insecure)
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          `${field}: plaintext SPICE channel without a plain port`,
          {
            field: f,
          },
        );
      items.push(`plaintext-channel=${name}`);
    }
  };
  mode(g.defaultMode, 'default', `${field}/@defaultMode`);
  for (const [j, c] of (g.channels ?? []).entries()) mode(c.mode, c.name, `${field}/channel[${j + 1}]/@mode`);
  const enumValue = (v: string, f: string) => {
    if (!/^[a-z_]+$/.test(v))
      throw new VirError('XML_DETAIL', 'qemu', `${f}: invalid value '${v}'`, { field: f });
    return v;
  };
  if (g.image)
    items.push(`image-compression=${enumValue(g.image.compression, `${field}/image/@compression`)}`);
  if (g.jpeg)
    items.push(`jpeg-wan-compression=${enumValue(g.jpeg.compression, `${field}/jpeg/@compression`)}`);
  if (g.zlib)
    items.push(`zlib-glz-wan-compression=${enumValue(g.zlib.compression, `${field}/zlib/@compression`)}`);
  if (g.playback) items.push(`playback-compression=${g.playback.compression ? 'on' : 'off'}`);
  if (g.streaming) items.push(`streaming-video=${enumValue(g.streaming.mode, `${field}/streaming/@mode`)}`);
  if (g.clipboard?.copypaste === false) items.push('disable-copy-paste=on');
  if (g.filetransfer?.enable === false) items.push('disable-agent-file-xfer=on');
  if (g.gl?.enable === true) {
    items.push('gl=on');
    const node = g.gl.rendernode ?? paths.renderNode;
    if (node !== undefined) items.push(`rendernode=${optValue(node, `${field}/gl/@rendernode`)}`);
  }
  items.push('seamless-migration=on');
  b.add('-spice', optList(items));
  keymap(b, g, field);
}

function sdl(b: ArgvBuilder, g: GraphicsDef, field: string): void {
  if (g.xauth !== undefined) b.env.XAUTHORITY = checkValue(g.xauth, `${field}/@xauth`);
  if (g.display !== undefined) b.env.DISPLAY = checkValue(g.display, `${field}/@display`);
  if (g.fullscreen === true) b.add('-full-screen');
  b.add('-display', optList(['sdl', g.gl?.enable !== undefined && `gl=${g.gl.enable ? 'on' : 'off'}`]));
}

function dbus(
  b: ArgvBuilder,
  g: GraphicsDef,
  field: string,
  paths: CommandLinePaths,
  audioId: number | undefined,
): void {
  const items: Array<string | undefined> = ['dbus'];
  if (g.p2p === true) items.push('p2p=on');
  else {
    const addr = g.address ?? (paths.dbusSocket !== undefined ? `unix:path=${paths.dbusSocket}` : undefined);
    if (addr === undefined)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `${field}: a D-Bus display needs an address or p2p='yes'`,
        {
          field: `${field}/@address`,
        },
      );
    items.push(`addr=${optValue(addr, `${field}/@address`)}`);
  }
  if (g.gl?.enable !== undefined) items.push(`gl=${g.gl.enable ? 'on' : 'off'}`);
  const node = g.gl?.rendernode ?? (g.gl?.enable === true ? paths.renderNode : undefined);
  if (node !== undefined) items.push(`rendernode=${optValue(node, `${field}/gl/@rendernode`)}`);
  if (audioId !== undefined) items.push(`audiodev=audio${audioId}`);
  b.add('-display', optList(items));
}

function keymap(b: ArgvBuilder, g: GraphicsDef, field: string): void {
  if (g.keymap === undefined) return;
  // QEMU looks the keymap up as a file name: only plain names such as en-us or de-ch.
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(g.keymap))
    throw new VirError('XML_DETAIL', 'qemu', `${field}: invalid keymap '${g.keymap}'`, {
      field: `${field}/@keymap`,
    });
  b.add('-k', g.keymap);
}

/**
 * A listen of type address without an address, as the guest starts: a UNIX
 * socket in the domain's directory when qemu.conf asks for one
 * (`*_auto_unix_socket`), else qemu.conf's listen address.
 */
function startListen(
  listen: GraphicsListen | undefined,
  autoSocket: boolean,
  address: string,
): GraphicsListen | undefined {
  if (listen?.type !== 'address' || listen.address !== undefined) return listen;
  return autoSocket ? { type: 'socket' } : { ...listen, address };
}

/**
 * The QMP commands that give VNC/SPICE its password before the guest runs:
 * the definition's own, else qemu.conf's `vnc_password`/`spice_password`.
 */
function setPassword(b: ArgvBuilder, g: GraphicsDef, field: string, cfg: QemuDriverConfig): void {
  const fallback = g.type === 'vnc' ? cfg.vncPassword : g.type === 'spice' ? cfg.spicePassword : undefined;
  if (g.passwd === undefined && fallback === undefined) return;
  if (g.type !== 'vnc' && g.type !== 'spice')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: a password for ${g.type} graphics`, {
      field: `${field}/@passwd`,
    });
  const password =
    g.passwd !== undefined
      ? checkValue(g.passwd, `${field}/@passwd`)
      : checkValue(fallback ?? '', g.type === 'vnc' ? 'config.vncPassword' : 'config.spicePassword');
  // what happens to clients already connected when the password is set (libvirt passes it at
  // start too); QEMU keeps VNC clients only
  const connected = g.connected;
  if (connected !== undefined && !['keep', 'disconnect', 'fail'].includes(connected))
    throw new VirError('XML_DETAIL', 'qemu', `${field}: invalid connected '${connected}'`, {
      field: `${field}/@connected`,
    });
  if (connected !== undefined && connected !== 'keep' && g.type === 'vnc')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: VNC keeps its connected clients`, {
      field: `${field}/@connected`,
    });
  b.monitorCommands.push({
    execute: 'set_password',
    arguments: { protocol: g.type, password, ...(connected !== undefined ? { connected } : {}) },
  });
  let time = 'never';
  if (g.passwdValidTo !== undefined) {
    const ms = Date.parse(`${g.passwdValidTo}Z`);
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(g.passwdValidTo) || Number.isNaN(ms))
      throw new VirError('XML_DETAIL', 'qemu', `${field}: invalid passwdValidTo '${g.passwdValidTo}'`, {
        field: `${field}/@passwdValidTo`,
      });
    time = String(Math.floor(ms / 1000));
  }
  b.monitorCommands.push({ execute: 'expire_password', arguments: { protocol: g.type, time } });
}
