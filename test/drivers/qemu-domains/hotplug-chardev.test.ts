/**
 * The `-chardev` list → `chardev-add` mapping: QEMU's doubled commas inside
 * a value, the union shape of QMP's ChardevBackend (qapi/char.json:
 * `socket` with `addr` as a SocketAddressLegacy, `file` with `out`), and
 * refusals of what has no member (never dropped).
 */
import { describe, expect, it } from 'vitest';
import { chardevAddArgs, splitOptList } from '../../../src/drivers/qemu/domains/hotplug-chardev.js';
import { VirError } from '../../../src/errors.js';

describe('chardev-add from a -chardev option', () => {
  it('splits at single commas; a doubled comma is a comma in the value', () => {
    expect(splitOptList('socket,id=c,path=/tmp/a,,b.sock,server=on')).toEqual([
      'socket',
      'id=c',
      'path=/tmp/a,b.sock',
      'server=on',
    ]);
  });

  it('a listening unix socket and a tcp client become socket backends with their address', () => {
    expect(chardevAddArgs('socket,id=charchannel0,path=/run/x,,y.sock,server=on,wait=off', 'f')).toEqual({
      id: 'charchannel0',
      backend: {
        type: 'socket',
        data: { addr: { type: 'unix', data: { path: '/run/x,y.sock' } }, server: true, wait: false },
      },
    });
    expect(chardevAddArgs('socket,id=c1,host=127.0.0.1,port=4555,reconnect=5', 'f')).toEqual({
      id: 'c1',
      backend: {
        type: 'socket',
        data: { addr: { type: 'inet', data: { host: '127.0.0.1', port: '4555' } }, reconnect: 5 },
      },
    });
  });

  it('pty, null and file backends; a log file is a common member', () => {
    expect(chardevAddArgs('pty,id=c2', 'f')).toEqual({ id: 'c2', backend: { type: 'pty', data: {} } });
    expect(chardevAddArgs('file,id=c3,path=/var/log/x,append=on,logfile=/l,logappend=off', 'f')).toEqual({
      id: 'c3',
      backend: { type: 'file', data: { out: '/var/log/x', append: true, logfile: '/l', logappend: false } },
    });
  });

  it('refuses an option or a backend it has no member for, naming the field', () => {
    for (const v of ['socket,id=c,path=/x,tls-creds=t', 'udp,id=c,host=a,port=1', 'socket,id=c,fd=3', 'pty'])
      expect(() => chardevAddArgs(v, '/domain/devices/channel[1]')).toThrow(
        expect.objectContaining({ code: 'CONFIG_UNSUPPORTED', field: '/domain/devices/channel[1]' }),
      );
    expect(() => chardevAddArgs('socket,id=c', 'f')).toThrow(VirError);
  });
});
