/**
 * libvirt connection URIs: `driver[+transport]://[user@][host][:port]/path[?query]`.
 *
 * The rules follow libvirt's: the scheme names the hypervisor driver and,
 * after a `+`, the transport to a remote daemon (`unix`, `tcp`, `tls`, `ssh`,
 * `ext`, `libssh`, `libssh2`); a URI with a host but no transport means TLS to
 * that host; query parameters are kept in order and decoded.
 */
import { VirError } from './errors.js';

/** The transports a URI may name after `+` (`qemu+ssh://`), as libvirt's remote driver knows them. */
export const URI_TRANSPORTS = ['unix', 'tcp', 'tls', 'ssh', 'libssh', 'libssh2', 'ext'] as const;
/** One of `URI_TRANSPORTS`. */
export type UriTransport = (typeof URI_TRANSPORTS)[number];

/** A connection URI split into its parts, by libvirt's rules. */
export interface ConnectUri {
  /** The URI exactly as given. */
  readonly uri: string;
  /** Driver part of the scheme: `test`, `qemu`, ... (lower-cased). */
  readonly driver: string;
  /** Transport after `+`, when given. */
  readonly transport: UriTransport | undefined;
  /** The user before `@`, for remote transports. */
  readonly user: string | undefined;
  /** Host name, without brackets for IPv6 literals. */
  readonly host: string | undefined;
  /** The port after the host, when given. */
  readonly port: number | undefined;
  /** Path, percent-decoded: `/system`, `/session`, `/default`, `/abs/file.xml`. */
  readonly path: string;
  /** Query parameters in order; names and values percent-decoded. */
  readonly params: ReadonlyArray<readonly [string, string]>;
}

/** Returns the value of the last query parameter `name` (libvirt keeps the last one). */
export function uriParam(uri: ConnectUri, name: string): string | undefined {
  let value: string | undefined;
  for (const [k, v] of uri.params) if (k === name) value = v;
  return value;
}

/** True when the URI names a remote transport or a host, so the remote driver must serve it. */
export function isRemoteUri(uri: ConnectUri): boolean {
  return uri.transport !== undefined || (uri.host !== undefined && uri.host !== '');
}

const SCHEME_RE = /^([A-Za-z][A-Za-z0-9.-]*)(?:\+([A-Za-z0-9]+))?:/;

/**
 * Parses a connection URI. Throws `NO_CONNECT` for something that is not a
 * URI libvirt would accept, and `INVALID_ARG` for a non-string.
 */
export function parseUri(input: string): ConnectUri {
  if (typeof input !== 'string' || input.length === 0) {
    throw new VirError('INVALID_ARG', 'connect', 'connection URI must be a non-empty string');
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (input.length > 8192 || /[\s\x00-\x1f\x7f]/.test(input)) {
    throw new VirError('NO_CONNECT', 'connect', `invalid connection URI '${printable(input)}'`);
  }
  const scheme = SCHEME_RE.exec(input);
  if (!scheme) {
    throw new VirError('NO_CONNECT', 'connect', `no scheme in connection URI '${printable(input)}'`);
  }
  const driver = scheme[1]!.toLowerCase();
  const transportRaw = scheme[2]?.toLowerCase();
  if (transportRaw !== undefined && !(URI_TRANSPORTS as readonly string[]).includes(transportRaw)) {
    throw new VirError(
      'NO_CONNECT',
      'connect',
      `unknown transport '${transportRaw}' in URI '${printable(input)}'`,
    );
  }
  const transport = transportRaw as UriTransport | undefined;
  let rest = input.slice(scheme[0].length);

  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  const hash = query.indexOf('#');
  if (hash >= 0) query = query.slice(0, hash);

  let user: string | undefined;
  let host: string | undefined;
  let port: number | undefined;
  let path: string;
  if (rest.startsWith('//')) {
    rest = rest.slice(2);
    const slash = rest.indexOf('/');
    const authority = slash >= 0 ? rest.slice(0, slash) : rest;
    path = slash >= 0 ? rest.slice(slash) : '';
    const at = authority.lastIndexOf('@');
    let hostPort = authority;
    if (at >= 0) {
      user = decode(authority.slice(0, at), input);
      hostPort = authority.slice(at + 1);
    }
    let portText: string | undefined;
    if (hostPort.startsWith('[')) {
      const close = hostPort.indexOf(']');
      if (close < 0)
        throw new VirError('NO_CONNECT', 'connect', `unterminated IPv6 host in URI '${printable(input)}'`);
      host = hostPort.slice(1, close);
      const after = hostPort.slice(close + 1);
      if (after.startsWith(':')) portText = after.slice(1);
      else if (after !== '')
        throw new VirError('NO_CONNECT', 'connect', `bad host in URI '${printable(input)}'`);
    } else {
      const colon = hostPort.lastIndexOf(':');
      if (colon >= 0) {
        portText = hostPort.slice(colon + 1);
        hostPort = hostPort.slice(0, colon);
      }
      host = hostPort === '' ? undefined : decode(hostPort, input);
    }
    if (portText !== undefined && portText !== '') {
      if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
        throw new VirError(
          'NO_CONNECT',
          'connect',
          `bad port '${printable(portText)}' in URI '${printable(input)}'`,
        );
      }
      port = Number(portText);
    }
  } else {
    // "test:/default" style: libvirt accepts a path without authority.
    path = rest;
  }
  path = decode(path, input);

  const params: Array<readonly [string, string]> = [];
  if (query !== '') {
    for (const part of query.split(/[&;]/)) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const name = decode((eq >= 0 ? part.slice(0, eq) : part).replace(/\+/g, ' '), input);
      const value = eq >= 0 ? decode(part.slice(eq + 1).replace(/\+/g, ' '), input) : '';
      params.push([name, value]);
    }
  }
  return { uri: input, driver, transport, user, host, port, path, params };
}

function decode(text: string, uri: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new VirError('NO_CONNECT', 'connect', `bad percent-encoding in URI '${printable(uri)}'`);
  }
}

function printable(text: string): string {
  const cut = text.length > 200 ? `${text.slice(0, 200)}...` : text;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we escape
  return cut.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
