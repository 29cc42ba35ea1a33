/**
 * virtiofsd for an unprivileged caller, without processes: the Rust
 * daemon's ID maps as libvirt's session mode writes them (the caller as 0,
 * its /etc/subuid range from 1), and the C daemon wrapped in a user
 * namespace of its own.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  C_VIRTIOFSD_PID_DIR,
  sessionIdMapArgs,
  sessionVirtiofsdSpec,
  subordinateRange,
} from '../../../src/drivers/qemu/lifecycle/virtiofsd-session.js';

const IDENTITY = {
  uid: 1000,
  gid: 1001,
  user: 'alice',
  subuid: 'bob:200000:65536\nalice:100000:65536\n',
  subgid: '1001:300000:1000\n',
  group: 'root:x:0:\nstaff:x:1001:alice\n',
};

describe('session virtiofsd', () => {
  it('subordinate ranges are found by name or by number, malformed lines skipped', () => {
    expect(subordinateRange('alice:x:1\nalice:5:6\n', ['alice'])).toEqual({ start: 5, count: 6 });
    expect(subordinateRange('1000:7:8\n', ['alice', '1000'])).toEqual({ start: 7, count: 8 });
    expect(subordinateRange('bob:1:2\n', ['alice'])).toBeUndefined();
  });

  it("the Rust daemon gets libvirt's ID maps: the caller as 0, its subordinate range from 1", () => {
    expect(sessionIdMapArgs(IDENTITY)).toEqual([
      '--uid-map=:0:1000:1:',
      '--uid-map=:1:100000:65536:',
      '--gid-map=:0:1001:1:',
      '--gid-map=:1:300000:1000:',
    ]);
    // without subordinate IDs only the caller itself is mapped
    expect(sessionIdMapArgs({ ...IDENTITY, subuid: '', subgid: '' })).toEqual([
      '--uid-map=:0:1000:1:',
      '--gid-map=:0:1001:1:',
    ]);
  });

  const spec = {
    name: 'virtiofsd',
    argv: ['/usr/libexec/virtiofsd', '--socket-path=/run/u/h/fs0-fs.sock', '-o', 'source=/srv/share'],
    logFile: '/log/g-fs0-virtiofsd.log',
    socket: '/run/u/h/fs0-fs.sock',
    runtimeFiles: ['/run/u/h/fs0-fs.sock'],
  };

  it('the Rust daemon keeps its argv and gains the maps', () => {
    const out = sessionVirtiofsdSpec(
      spec,
      { separateOptions: true },
      '/domain/devices/filesystem[1]',
      '/run/u/h',
      0,
    );
    expect(out.argv.slice(0, spec.argv.length)).toEqual(spec.argv);
    expect(out.argv.slice(spec.argv.length).every((a) => /^--[ug]id-map=:\d+:\d+:\d+:$/.test(a))).toBe(true);
  });

  it.skipIf(!existsSync('/usr/bin/unshare') || !existsSync(C_VIRTIOFSD_PID_DIR))(
    'the C daemon runs in a user namespace with its pid-file directory bound to one of the guest',
    () => {
      const out = sessionVirtiofsdSpec(
        spec,
        { separateOptions: false },
        '/domain/devices/filesystem[1]',
        '/run/u/h',
        0,
      );
      expect(out.argv.slice(0, 5)).toEqual([
        '/usr/bin/unshare',
        '--user',
        '--map-root-user',
        '--mount',
        '--',
      ]);
      // the daemon's own argv is passed through unchanged, after the bind directory
      expect(out.argv.slice(-spec.argv.length)).toEqual(spec.argv);
      expect(out.argv.at(-spec.argv.length - 1)).toBe('/run/u/h/fs0-virtiofsd-run');
      // its pid file (named after the socket path) is removed with the socket
      expect(out.runtimeFiles).toEqual([spec.socket, '/run/u/h/fs0-virtiofsd-run/.run.u.h.fs0-fs.sock.pid']);
    },
  );
});
