/**
 * A `-chardev` option as `buildChardev` writes it (QEMU's `key=value` list,
 * commas doubled inside values), turned into the arguments of QMP
 * `chardev-add`, whose backend is a tagged union (`{ type, data }`) rather
 * than a flat list. Only the backends a hot-plugged device can have are
 * mapped; any other key or type is refused before anything is sent, so
 * nothing of the definition is dropped on the way.
 *
 * @module
 */
import { VirError } from '../../../errors.js';

/** Splits a QEMU option list at single commas (`,,` is a comma inside a value). */
export function splitOptList(value: string): string[] {
  const items: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === ',' && value[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (ch === ',') {
      items.push(cur);
      cur = '';
    } else cur += ch;
  }
  items.push(cur);
  return items;
}

const onOff = (v: string) => v === 'on';

/** The keys each backend type takes, with how each becomes a `data` member. */
const COMMON: Record<string, (data: Record<string, unknown>, v: string) => void> = {
  logfile: (d, v) => {
    d.logfile = v;
  },
  logappend: (d, v) => {
    d.logappend = onOff(v);
  },
};

const SOCKET: Record<
  string,
  (data: Record<string, unknown>, v: string, addr: Record<string, string>) => void
> = {
  path: (_d, v, a) => {
    a.path = v;
  },
  host: (_d, v, a) => {
    a.host = v;
  },
  port: (_d, v, a) => {
    a.port = v;
  },
  server: (d, v) => {
    d.server = onOff(v);
  },
  wait: (d, v) => {
    d.wait = onOff(v);
  },
  telnet: (d, v) => {
    d.telnet = onOff(v);
  },
  reconnect: (d, v) => {
    d.reconnect = Number(v);
  },
};

/** `chardev-add`'s arguments for one `-chardev` value; refuses what it has no member for. */
export function chardevAddArgs(value: string, field: string): Record<string, unknown> {
  const [type = '', ...rest] = splitOptList(value);
  const opts = new Map<string, string>();
  for (const item of rest) {
    const at = item.indexOf('=');
    if (at < 0) throw refuse(`chardev option '${item}'`, field);
    opts.set(item.slice(0, at), item.slice(at + 1));
  }
  const id = opts.get('id');
  if (id === undefined) throw refuse('a chardev without an id', field);
  opts.delete('id');
  const data: Record<string, unknown> = {};
  const addr: Record<string, string> = {};
  for (const [k, v] of opts) {
    const common = COMMON[k];
    if (common) {
      common(data, v);
      continue;
    }
    if (type === 'socket' && SOCKET[k]) {
      SOCKET[k](data, v, addr);
      continue;
    }
    if (type === 'file' && (k === 'path' || k === 'append')) {
      if (k === 'path') data.out = v;
      else data.append = onOff(v);
      continue;
    }
    if ((type === 'pipe' || type === 'serial' || type === 'parallel') && k === 'path') {
      data.device = v;
      continue;
    }
    throw refuse(`chardev option '${k}' of a '${type}' backend`, field);
  }
  if (type === 'socket') {
    if (addr.path !== undefined) data.addr = { type: 'unix', data: { path: addr.path } };
    else if (addr.host !== undefined && addr.port !== undefined)
      data.addr = { type: 'inet', data: { host: addr.host, port: addr.port } };
    else throw refuse('a socket chardev without an address', field);
  } else if (!['null', 'pty', 'file', 'pipe', 'serial', 'parallel'].includes(type))
    throw refuse(`a '${type}' chardev`, field);
  return { id, backend: { type, data } };
}

function refuse(what: string, field: string): VirError {
  return new VirError('CONFIG_UNSUPPORTED', 'qemu', `${what} cannot be hot-plugged yet`, { field });
}
