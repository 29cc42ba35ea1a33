/**
 * The ssh and ext transports, as far as they can be exercised without an
 * ssh server: a stand-in `ssh` on PATH runs the remote command locally (as
 * sshd would, through a shell), and a stand-in `nc` bridges stdio to the
 * test daemon's unix socket, so the bytes really cross two processes.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteConnection } from '../../../src/drivers/remote/remote-connection.js';
import { daemonUri, shellQuote, sshArguments } from '../../../src/drivers/remote/transport.js';
import { VirError } from '../../../src/errors.js';
import { parseUri } from '../../../src/uri.js';
import { waitFor } from '../../wait-for.js';
import { type Daemon, LIBVIRTD, startLibvirtd } from './libvirtd.js';

describe('ssh command line', () => {
  it('passes user, port, key and host-key options, and quotes the far-side script', () => {
    const args = sshArguments(
      parseUri(
        "qemu+ssh://alice@host.example:2222/system?keyfile=/k/id&no_verify=1&socket=/run/it's%20$(x).sock&netcat=/bin/echo",
      ),
      false,
    );
    expect(args.slice(0, 5)).toEqual(['-T', '-e', 'none', '-o', 'BatchMode=yes']);
    expect(args).toEqual(
      expect.arrayContaining(['-p', '2222', '-l', 'alice', '-i', '/k/id', '-o', 'StrictHostKeyChecking=no']),
    );
    const dashdash = args.indexOf('--');
    expect(args[dashdash + 1]).toBe('host.example');
    // sshd hands the command string to the user's shell: do the same and see what netcat (echo) gets
    const out = spawnSync('/bin/sh', ['-c', args[dashdash + 2]!], { encoding: 'utf8' });
    expect(out.stdout).toBe("-U /run/it's $(x).sock\n");
  });

  it('prefers virt-ssh-helper with the daemon-side URI, falling back to netcat', () => {
    const args = sshArguments(parseUri('qemu+ssh://host/system'), true);
    const remote = args.at(-1)!;
    expect(remote).toContain('virt-ssh-helper -r');
    expect(remote).toContain('qemu:///system');
    expect(remote).toContain('/run/libvirt/libvirt-sock-ro');
  });

  it('keeps daemon-side query parameters and drops the transport ones', () => {
    expect(daemonUri(parseUri('qemu+ssh://u@h/system?keyfile=/k&mode=legacy'))).toBe('qemu:///system');
    expect(daemonUri(parseUri('test+tcp://h:1/default'))).toBe('test:///default');
    expect(daemonUri(parseUri('remote+unix:///'))).toBe('');
    expect(daemonUri(parseUri('qemu+unix:///system?name=qemu:///session'))).toBe('qemu:///session');
    expect(daemonUri(parseUri('xen+ssh://h/?foo=bar'))).toBe('xen:///?foo=bar');
  });

  it('shell-quotes anything', () => {
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
    expect(shellQuote('$(rm -rf /)')).toBe("'$(rm -rf /)'");
  });
});

describe.skipIf(!LIBVIRTD)('ssh and ext transports with stand-in ssh and nc', () => {
  let daemon: Daemon;
  let bin: string;
  let savedPath: string | undefined;

  beforeAll(async () => {
    daemon = await startLibvirtd();
    bin = mkdtempSync(join(tmpdir(), 'virtkit-fake-ssh-'));
    // nc -U SOCKET: stdio <-> unix socket; records its pid; exits on EOF either way
    writeFileSync(
      join(bin, 'nc'),
      `#!${process.execPath}
const args = process.argv.slice(2);
if (args[0] === '-q' && args.length === 1) { console.error('nc: option requires an argument -- q'); process.exit(1); }
const path = args[args.indexOf('-U') + 1];
require('node:fs').appendFileSync(${JSON.stringify(join(bin, 'nc.pids'))}, process.pid + '\\n');
const s = require('node:net').createConnection(path);
process.stdin.pipe(s);
s.pipe(process.stdout);
process.stdin.on('end', () => s.end());
s.on('close', () => process.exit(0));
s.on('error', (e) => { console.error('nc: ' + e.message); process.exit(1); });
`,
    );
    // ssh [options] -- host command: record the argv, then act as the far side
    writeFileSync(
      join(bin, 'ssh'),
      `#!/bin/sh
printf '%s\\n' "$@" > ${shellQuote(join(bin, 'ssh.args'))}
while [ "$1" != "--" ]; do shift; done
host="$2"; cmd="$3"
if [ "$host" = "badkey" ]; then
  echo "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@" >&2
  echo "Host key verification failed." >&2
  exit 255
fi
if [ "$host" = "nohost" ]; then
  echo "ssh: Could not resolve hostname nohost: Name or service not known" >&2
  exit 255
fi
exec /bin/sh -c "$cmd"
`,
    );
    writeFileSync(
      join(bin, 'ext-bridge'),
      `#!/bin/sh\nexec ${shellQuote(join(bin, 'nc'))} -U ${shellQuote(daemon.socket)}\n`,
    );
    for (const f of ['nc', 'ssh', 'ext-bridge']) chmodSync(join(bin, f), 0o755);
    savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath ?? ''}`;
  });

  afterAll(async () => {
    process.env.PATH = savedPath;
    await daemon?.stop();
    if (bin) rmSync(bin, { recursive: true, force: true });
  });

  function ncPidsAlive(): number[] {
    const file = join(bin, 'nc.pids');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((pid) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      });
  }

  it('talks to the daemon through ssh + netcat, and leaves no process behind', async () => {
    const uri = `test+ssh://alice@fakehost:2222/default?socket=${daemon.socket}&netcat=${join(bin, 'nc')}&keyfile=/tmp/key`;
    const conn = await RemoteConnection.open(parseUri(uri), { readonly: false });
    try {
      expect(conn.type).toBe('TEST');
      expect(conn.peer).toBe('ssh fakehost');
      const dom = await conn.lookupDomain({ name: 'test' });
      expect((await conn.domainGetState(dom)).state).toBe('running');
    } finally {
      await conn.close();
    }
    const args = readFileSync(join(bin, 'ssh.args'), 'utf8').split('\n');
    expect(args).toEqual(
      expect.arrayContaining(['-p', '2222', '-l', 'alice', '-i', '/tmp/key', '--', 'fakehost']),
    );
    // the far side notices EOF and exits
    await waitFor(() => ncPidsAlive().length === 0, {
      what: 'exit of the far side',
      seen: () => `${ncPidsAlive()}`,
    });
    expect(ncPidsAlive()).toEqual([]);
  });

  it('reports a host key problem as AUTH_FAILED with ssh own words', async () => {
    const err = (await RemoteConnection.open(
      parseUri(`test+ssh://badkey/default?netcat=${join(bin, 'nc')}`),
      {
        readonly: false,
      },
    ).catch((e: unknown) => e)) as VirError;
    expect(err).toBeInstanceOf(VirError);
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.message).toContain('Host key verification failed.');
  });

  it('reports an unreachable host as NO_CONNECT with ssh own words', async () => {
    const err = (await RemoteConnection.open(parseUri('test+ssh://nohost/default'), {
      readonly: false,
    }).catch((e: unknown) => e)) as VirError;
    expect(err.code).toBe('NO_CONNECT');
    expect(err.message).toContain('Could not resolve hostname nohost');
  });

  it('runs any command with the ext transport', async () => {
    const conn = await RemoteConnection.open(
      parseUri(`test+ext:///default?command=${join(bin, 'ext-bridge')}`),
      {
        readonly: false,
      },
    );
    try {
      expect(await conn.getHostname()).toBeTypeOf('string');
    } finally {
      await conn.close();
    }
  });

  it('reports a missing ext command as NO_CONNECT', async () => {
    await expect(
      RemoteConnection.open(parseUri('test+ext:///default?command=/nonexistent/helper'), { readonly: false }),
    ).rejects.toMatchObject({ code: 'NO_CONNECT', message: expect.stringContaining('/nonexistent/helper') });
  });
});
