import type { ChardevDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { ArgvBuilder } from './argv-builder.js';
import type { Props } from './device-props.js';
import { checkValue, optValue } from './escape.js';

/** `-chardev` for a character backend (also an RNG's egd backend). */
export function chardev(b: ArgvBuilder, c: ChardevDef, id: string, field: string): void {
  const src = c.sources?.[0];
  const items = [c.type === 'dev' ? 'serial' : c.type, `id=${id}`];
  switch (c.type) {
    case 'pty':
    case 'null':
    case 'vc':
    case 'stdio':
      break;
    case 'file':
    case 'pipe':
    case 'dev':
      items.push(`path=${optValue(src?.path ?? '', `${field}/source/@path`)}`);
      if (c.type === 'file' && src?.append !== undefined) items.push(`append=${src.append ? 'on' : 'off'}`);
      break;
    case 'unix':
      items.push(`path=${optValue(src?.path ?? '', `${field}/source/@path`)}`);
      if (src?.mode === 'bind') items.push('server=on', 'wait=off');
      break;
    case 'tcp':
      items.push(
        `host=${optValue(src?.host ?? '', `${field}/source/@host`)}`,
        `port=${optValue(src?.service ?? '', `${field}/source/@service`)}`,
      );
      if (src?.mode === 'bind') items.push('server=on', 'wait=off');
      if (c.protocol?.type === 'telnet') items.push('telnet=on');
      break;
    default:
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `character device type '${c.type}' is not supported`, {
        field: `${field}/@type`,
      });
  }
  if (c.log) {
    items.push(`logfile=${optValue(c.log.file, `${field}/log/@file`)}`);
    if (c.log.append !== undefined) items.push(`logappend=${c.log.append ? 'on' : 'off'}`);
  }
  b.add('-chardev', items.join(','));
}

export function buildChardevs(b: ArgvBuilder, def: DomainDef): void {
  const dev = def.devices ?? {};
  for (const [i, s] of (dev.serials ?? []).entries()) {
    const field = `/domain/devices/serial[${i + 1}]`;
    chardev(b, s, `charserial${i}`, field);
    const model = s.target?.model?.name ?? 'isa-serial';
    b.props(
      '-device',
      { driver: model, chardev: `charserial${i}`, id: `serial${i}`, index: Number(s.target?.port ?? i) },
      field,
    );
  }
  for (const [i, p] of (dev.parallels ?? []).entries()) {
    const field = `/domain/devices/parallel[${i + 1}]`;
    if (p.type === 'dev') {
      const path = p.sources?.[0]?.path ?? '';
      b.add('-chardev', `parallel,id=charparallel${i},path=${optValue(path, `${field}/source/@path`)}`);
    } else chardev(b, p, `charparallel${i}`, field);
    b.props('-device', { driver: 'isa-parallel', chardev: `charparallel${i}`, id: `parallel${i}` }, field);
  }
  for (const [i, c] of (dev.channels ?? []).entries()) {
    const field = `/domain/devices/channel[${i + 1}]`;
    const id = `charchannel${i}`;
    if (c.target?.type === 'guestfwd') {
      chardev(b, c, id, field);
      const addr = `${c.target.address ?? ''}:${c.target.port ?? ''}`;
      b.props(
        '-netdev',
        {
          type: 'user',
          guestfwd: [{ str: `tcp:${checkValue(addr, `${field}/target`)}-chardev:${id}` }],
          id: `channel${i}`,
        },
        field,
      );
      continue;
    }
    chardev(b, c, id, field);
    const a = c.address?.type === 'virtio-serial' ? c.address : undefined;
    const p: Props = {
      driver: 'virtserialport',
      bus: `virtio-serial${a?.controller ?? 0}.${a?.bus ?? 0}`,
      nr: a?.port ?? 1,
      chardev: id,
      id: `channel${i}`,
    };
    if (c.target?.name !== undefined) p.name = checkValue(c.target.name, `${field}/target/@name`);
    b.props('-device', p, field);
  }
  for (const [i, c] of (dev.consoles ?? []).entries()) {
    if (c.target?.type === 'serial' || c.target?.type === undefined) continue;
    const field = `/domain/devices/console[${i + 1}]`;
    chardev(b, c, `charconsole${i}`, field);
    if (c.target.type === 'virtio') {
      const a = c.address?.type === 'virtio-serial' ? c.address : undefined;
      b.props(
        '-device',
        {
          driver: 'virtconsole',
          bus: `virtio-serial${a?.controller ?? 0}.${a?.bus ?? 0}`,
          nr: a?.port ?? 0,
          chardev: `charconsole${i}`,
          id: `console${i}`,
        },
        field,
      );
    }
  }
}
