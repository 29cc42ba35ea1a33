/**
 * Syntax check of a namespace name as a URI reference (RFC 3986).
 *
 * XML namespaces only ask for a URI reference; libxml2 (and so libvirt)
 * refuses a declaration whose value does not parse as one, while a merely
 * relative one is fine. This follows RFC 3986's grammar with libxml2's two
 * leniencies that matter in practice: `[` and `]` in a fragment, and an IP
 * literal's inside taken as written.
 *
 * @module
 */

const PCHARS = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*$/;
const QUERY = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/;
const FRAGMENT = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?[\]]|%[0-9A-Fa-f]{2})*$/;
const USERINFO = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:]|%[0-9A-Fa-f]{2})*$/;
const REG_NAME = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

export function isUriReference(u: string): boolean {
  const scheme = SCHEME.exec(u);
  let rest = scheme ? u.slice(scheme[0].length) : u;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    if (!FRAGMENT.test(rest.slice(hash + 1))) return false;
    rest = rest.slice(0, hash);
  }
  const q = rest.indexOf('?');
  if (q >= 0) {
    if (!QUERY.test(rest.slice(q + 1))) return false;
    rest = rest.slice(0, q);
  }
  let path = rest;
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    if (!isAuthority(authority)) return false;
    path = slash < 0 ? '' : rest.slice(slash);
  }
  const segments = path.split('/');
  // without a scheme, a colon in the first segment would make it look like one
  if (!scheme && !path.startsWith('/') && segments[0]!.includes(':')) return false;
  return segments.every((seg) => PCHARS.test(seg));
}

function isAuthority(a: string): boolean {
  let hostPort = a;
  const at = a.indexOf('@');
  if (at >= 0) {
    if (!USERINFO.test(a.slice(0, at))) return false;
    hostPort = a.slice(at + 1);
  }
  let port: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) return false;
    const after = hostPort.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return false;
      port = after.slice(1);
    }
  } else {
    const colon = hostPort.indexOf(':');
    const host = colon < 0 ? hostPort : hostPort.slice(0, colon);
    if (!REG_NAME.test(host)) return false;
    if (colon >= 0) port = hostPort.slice(colon + 1);
  }
  return port === undefined || /^[0-9]+$/.test(port);
}
