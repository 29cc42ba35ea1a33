import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixture } from '../shared-data.js';
import { runCli, withoutUnsupportedLines } from './run-cli.js';

const chainFile = fixture('virsh/test-default-chain.cmd');
const vm1 = fixture('virsh/vm1.xml');

describe('virtkit CLI against virsh output captured from test:///default', () => {
  it('prints nodeinfo as virsh does', async () => {
    const r = await runCli(['-c', 'test:///default', 'nodeinfo']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      `${readFileSync(fixture('virsh/test-default-nodeinfo.txt'), 'utf8').replace(/\n+$/, '\n')}\n`,
    );
  });

  it('prints capabilities identical to virsh', async () => {
    const r = await runCli(['capabilities']);
    expect(r.out).toBe(`${readFileSync(fixture('virsh/test-default-capabilities.xml'), 'utf8')}\n`);
  });

  it('runs a ;-separated chain in one session as virsh does (define, start, suspend, setmem, undefine, help)', async () => {
    const chain = readFileSync(chainFile, 'utf8').trim().replace('define vm1.xml', `define ${vm1}`);
    const r = await runCli(['-c', 'test:///default', chain]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const virsh = readFileSync(fixture('virsh/test-default-chain.txt'), 'utf8').replace(
      'defined from vm1.xml',
      `defined from ${vm1}`,
    );
    expect(withoutUnsupportedLines(r.out)).toBe(withoutUnsupportedLines(virsh));
  });

  it('keeps one session for a chain, so a domain defined first can be started and inspected', async () => {
    const r = await runCli(['-q', `define ${vm1}; start vm1; domstate vm1 --reason`]);
    expect(r).toEqual({ code: 0, out: 'running (booted)\n', err: '' });
  });

  it('domxml-to-native: refused on test:/// as virsh is (no native form), usage errors exit 1', async () => {
    const r = await runCli(['-c', 'test:///default', 'domxml-to-native', 'qemu-argv', vm1]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not support/);
    const missing = await runCli(['-c', 'test:///default', 'domxml-to-native', 'qemu-argv']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/xml/);
  });

  it('computes cpu-baseline from a capabilities document with the features virsh gives', async () => {
    const r = await runCli(['-q', 'cpu-baseline', fixture('capabilities/qemu-session-x86_64.xml')]);
    expect(r.code).toBe(0);
    const lines = (s: string) => s.trim().split('\n').sort();
    expect(lines(r.out)).toEqual(lines(readFileSync(fixture('virsh/test-default-cpu-baseline.xml'), 'utf8')));
  });

  it('prints the version lines with virsh labels and the hypervisor version virsh reports', async () => {
    const r = await runCli(['version']);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^Compiled against library: virtkit \d+\.\d+\.\d+$/);
    expect(lines[1]).toMatch(/^Using library: virtkit /);
    expect(lines[2]).toMatch(/^Using API: TEST /);
    expect(lines[3]).toBe('Running hypervisor: TEST 0.0.2');
  });
});

describe('virtkit CLI mistakes: one line in words, exit 1, nothing run (messages as virsh 9.0 prints them)', () => {
  const cases: [string[], string][] = [
    [['list', '--bogus'], "error: command 'list' doesn't support option --bogus\n"],
    [['dominfo', 'test', 'extra'], "error: unexpected data 'extra'\n"],
    [['frob'], "error: unknown command: 'frob'\n"],
    [['--bogus'], "error: unsupported option '--bogus'. See --help.\n"],
    [['-x', 'list'], "error: unsupported option '-x'. See --help.\n"],
    [['dominfo'], "error: command 'dominfo' requires <domain> option\n"],
    [['dominfo --domain'], 'error: expected syntax: --domain <string>\n'],
    [['domstate test --domain test'], 'error: option --domain already seen\n'],
    [['list --all=x'], "error: invalid '=' after option --all\n"],
    [['dominfo nope'], "error: failed to get domain 'nope'\n"],
    [
      ['define /nonexistent/f.xml'],
      "error: Failed to open file '/nonexistent/f.xml': No such file or directory\n",
    ],
    [['setmem test 1x'], "error: Scaled numeric value '1x' for <size> option is malformed or out of range\n"],
    [['setvcpus test abc'], "error: Numeric value 'abc' for <count> option is malformed or out of range\n"],
    [['setmem test 1000 --current --live'], 'error: Options --current and --live are mutually exclusive\n'],
    [['start test'], 'error: Domain is already active\n'],
    [['-c'], "error: option '-c'/'--connect' requires an argument\n"],
  ];
  for (const [argv, err] of cases) {
    it(`virtkit ${argv.join(' ')}`, async () => {
      const r = await runCli(argv);
      expect(r.err).toBe(err);
      expect(r.code).toBe(1);
    });
  }

  it('parses the whole line before running any of it', async () => {
    const r = await runCli(['hostname; frob']);
    expect(r).toEqual({ code: 1, out: '', err: "error: unknown command: 'frob'\n" });
  });

  it('reports malformed XML with its line and column', async () => {
    const r = await runCli(['define', fixture('virsh/README.md')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: Failed to define domain from .*README\.md: .*line \d+, column \d+/);
    expect(r.err.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('says which URI it cannot open', async () => {
    const r = await runCli(['-c', 'nope:///x', 'list']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: failed to connect to the hypervisor: .*nope:\/\/\/x/);
  });

  it('refuses a capabilities file given to define, and a domain without a <cpu> to cpu-baseline', async () => {
    const define = await runCli(['define', fixture('capabilities/qemu-session-x86_64.xml')]);
    expect(define.code).toBe(1);
    expect(define.err).toMatch(/^error: Failed to define domain from .*: /);
    const base = await runCli(['cpu-baseline', vm1]);
    expect(base.code).toBe(1);
    expect(base.err).toBe(
      `error: File '${vm1}' does not contain any <cpu> element or valid domain XML, host capabilities XML, or domain capabilities XML\n`,
    );
  });

  it('exits 1 with the last command of a chain failing, 0 when the last one succeeds (as virsh)', async () => {
    expect((await runCli(['hostname; dominfo nope'])).code).toBe(1);
    expect((await runCli(['dominfo nope; hostname'])).code).toBe(0);
  });
});

describe('virtkit CLI options and modes', () => {
  it('takes the URI from LIBVIRT_DEFAULT_URI, and -c over it', async () => {
    const env = { LIBVIRT_DEFAULT_URI: 'nope:///x' };
    expect((await runCli(['-q', 'uri'], { env })).err).toMatch(/nope:\/\/\/x/);
    expect((await runCli(['-q', '-c', 'test:///default', 'uri'], { env })).out).toBe('test:///default\n');
    expect((await runCli(['-q', '--connect=test:///default', 'uri'], { env })).out).toBe('test:///default\n');
  });

  it('prints --version, --help and per-command --help', async () => {
    expect((await runCli(['--version'])).out).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect((await runCli(['-V'])).out).toMatch(/^virtkit command line tool, virtkit /);
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('    -c | --connect=URI      hypervisor connection URI');
    const setmem = await runCli(['setmem', '--help']);
    expect(setmem.out).toContain('    setmem <domain> <size> [--config] [--live] [--current]\n');
    expect(setmem.out).toContain('    [--size] <number>  new memory size, as scaled integer (default KiB)\n');
  });

  it('runs an interactive session from stdin until quit', async () => {
    const r = await runCli(['-q'], { stdin: `define ${vm1}\nstart vm1; list --name\nquit\nhostname\n` });
    expect(r).toEqual({ code: 0, out: 'test\nvm1\n', err: '' });
  });

  it('reads domcapabilities options by virsh names', async () => {
    const r = await runCli(['-q', 'domcapabilities', '--emulator', '/x']);
    expect(r.err).toBe("error: command 'domcapabilities' doesn't support option --emulator\n");
    const ok = await runCli(['-q', 'domcapabilities --virttype test']);
    expect(ok.code === 0 || /^error: failed to get emulator capabilities: /.test(ok.err)).toBe(true);
  });

  it('takes, lists, reverts and deletes snapshots', async () => {
    const r = await runCli([
      '-q',
      'snapshot-create-as test s1 "first one"; snapshot-list test --name; snapshot-current test --name; snapshot-revert test s1; snapshot-delete test s1; snapshot-list test --name',
    ]);
    expect(r).toEqual({ code: 0, out: 's1\ns1\n', err: '' });
    const msg = await runCli(['snapshot-create-as test s1; snapshot-delete test --current']);
    expect(msg.out).toBe('Domain snapshot s1 created\nDomain snapshot s1 deleted\n\n');
  });

  it('draws snapshot trees, filters and info as virsh 9.0 printed them on test:///default', async () => {
    const r = await runCli([
      'snapshot-create-as test s1; snapshot-create-as test s2; snapshot-revert test s1; snapshot-create-as test s3; ' +
        'snapshot-list test --tree; snapshot-list test --leaves --name; snapshot-current test --name; ' +
        'snapshot-parent test s2; snapshot-info test s1',
    ]);
    // captured from `virsh -c test:///default` (libvirt 9.0) with the same line
    const virsh = [
      'Domain snapshot s1 created',
      'Domain snapshot s2 created',
      'Domain snapshot s1 reverted',
      '',
      'Domain snapshot s3 created',
      's1',
      '  |',
      '  +- s2',
      '  +- s3',
      '    ',
      '',
      's2',
      's3',
      '',
      's3',
      's1',
      'Name:           s1',
      'Domain:         test',
      'Current:        no',
      'State:          running',
      'Location:       internal',
      'Parent:         -',
      'Children:       2',
      'Descendants:    2',
      'Metadata:       yes',
      '',
      '',
    ].join('\n');
    expect(r).toEqual({ code: 0, out: virsh, err: '' });
  });

  it('prints tables without their header under -q, as virsh does', async () => {
    expect(await runCli(['-q', 'list'])).toEqual({ code: 0, out: ' 1   test   running\n', err: '' });
  });

  it('prints lifecycle events as virsh does', async () => {
    const r = await runCli(['-q', `define ${vm1}; event --list`]);
    expect(r.out).toBe('lifecycle\n');
    const timed = await runCli(['-q', 'event --all --timeout 1']);
    expect(timed.out).toBe('event loop timed out\nevents received: 0\n');
    // virsh fails a wait that saw no event
    expect(timed.code).toBe(1);
  });

  it('sets autostart, memory and vCPUs, managed-saves and renames', async () => {
    const r = await runCli([
      '-q',
      `define ${vm1}; autostart vm1; setmem vm1 256M --config; setvcpus vm1 1 --config; domrename vm1 vm2; dominfo vm2`,
    ]);
    expect(r.err).toBe('');
    expect(r.out).toContain('Autostart:      enable\n');
    expect(r.out).toContain('Used memory:    262144 KiB\n');
    expect(r.out).toContain('CPU(s):         1\n');
    const saved = await runCli(['-q', 'managedsave test; dominfo test']);
    expect(saved.err).toBe('');
    expect(saved.out).toContain('Managed save:   yes\n');
  });
});
