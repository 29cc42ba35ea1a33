/**
 * Differential test against the real `virsh -c test:///default` when it is
 * installed (Debian's libvirt-clients): the same command lines, compared
 * line by line, leaving out the dominfo lines our library has no call for.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixture } from '../shared-data.js';
import { runCli, withoutUnsupportedLines } from './run-cli.js';
import { spawnVirsh } from './virsh-peer.js';

const HAS_VIRSH = spawnSync('virsh', ['--version'], { encoding: 'utf8' }).status === 0;

function virsh(args: string[]): { code: number; out: string; err: string } {
  const r = spawnVirsh(['-c', 'test:///default', ...args], {
    cwd: fixture('virsh'),
    env: { ...process.env, LC_ALL: 'C', VIRSH_DEFAULT_CONNECT_URI: '' },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe.skipIf(!HAS_VIRSH)(
  `virtkit beside the installed virsh${HAS_VIRSH ? '' : ' (skipped: no virsh)'}`,
  () => {
    it('prints the same for the define/start/inspect chain', async () => {
      const chain = readFileSync(fixture('virsh/test-default-chain.cmd'), 'utf8').trim();
      const theirs = virsh([chain]);
      const vm1 = fixture('virsh/vm1.xml');
      const ours = await runCli(['-c', 'test:///default', chain.replace('define vm1.xml', `define ${vm1}`)]);
      expect(ours.code).toBe(theirs.code);
      expect(withoutUnsupportedLines(ours.out)).toBe(
        withoutUnsupportedLines(theirs.out.replace('defined from vm1.xml', `defined from ${vm1}`)),
      );
    });

    for (const line of [
      'list',
      'list --all',
      'dominfo test',
      'domstate test',
      'domstate test --reason',
      'list --name; list --uuid; list --id',
      'list --bogus',
      'dominfo test extra',
      'frob',
      'dominfo',
      'dominfo nope',
      'start test',
      'dominfo --help',
      'help hostname',
      'domrename test t2',
      'destroy test; domrename test t2; list --all',
      'suspend test; domstate test --reason; resume test; domstate test --reason',
      'managedsave test; list --all; domstate test --reason; start test; domstate test --reason',
      'setmem test 1048576; setvcpus test 1 --live; autostart test; dominfo test',
      // no tables here: their creation times could fall in different seconds of the two runs
      'snapshot-create-as test s1; snapshot-create-as test s2; snapshot-revert test s1; ' +
        'snapshot-create-as test s3; snapshot-list test --tree; snapshot-list test --leaves --name; ' +
        'snapshot-current test --name; snapshot-parent test s2; snapshot-info test s1; ' +
        'snapshot-list test --from s1 --tree; snapshot-list test --no-leaves --name',
      'snapshot-list test --roots --tree',
      'snapshot-list test --descendants',
      'snapshot-info test s9',
      'dumpxml test --migratable; dumpxml test --inactive --migratable',
      'dumpxml test --update-cpu',
      // --xpath and --wrap: libxml2's node dumps (double quotes), one a line, or under <nodes>
      'dumpxml test --xpath //disk; dumpxml test --xpath /domain/name; dumpxml test --xpath //disk/@type',
      'dumpxml test --xpath //nope; dumpxml test --xpath /domain/name/text(); dumpxml --xpath //os test --wrap',
      'dumpxml test --xpath //nope --wrap; dumpxml test --xpath //disk/@type --wrap',
      "dumpxml test --xpath '//target|//source' --wrap; dumpxml test --xpath 'count(//disk)'",
      'net-dumpxml default --xpath //ip --wrap; pool-dumpxml default-pool --xpath //path',
      'nodedev-dumpxml computer --xpath //capability/@type',
      'snapshot-create-as test s1; snapshot-dumpxml test s1 --xpath //state',
      // a display password only with --security-info, in the domain's XML and in a snapshot's
      `define ${fixture('virsh/secret-vnc.xml')}; dumpxml vk-secret --xpath //graphics; dumpxml vk-secret --security-info --xpath //graphics; ` +
        'snapshot-create-as vk-secret s1; snapshot-dumpxml vk-secret s1 --xpath //graphics; ' +
        'snapshot-dumpxml vk-secret s1 --security-info --xpath //graphics',
    ]) {
      it(`virsh '${line}'`, async () => {
        const theirs = virsh([line]);
        const ours = await runCli(['-c', 'test:///default', line]);
        expect({ ...ours, out: withoutUnsupportedLines(ours.out) }).toEqual({
          ...theirs,
          out: withoutUnsupportedLines(theirs.out),
        });
      });
    }

    for (const argv of [
      ['-q', 'list'],
      ['-q', 'list', '--all'],
      ['-q', 'snapshot-list', 'test'],
      ['-q', 'start test; domstate test'],
    ]) {
      it(`virsh ${argv.join(' ')}`, async () => {
        const theirs = spawnVirsh(['-c', 'test:///default', ...argv], {
          env: { ...process.env, LC_ALL: 'C' },
        });
        const ours = await runCli(['-c', 'test:///default', ...argv]);
        expect(ours).toEqual({ code: theirs.status, out: theirs.stdout, err: theirs.stderr });
      });
    }

    it('has the hypervisor version line of virsh version', async () => {
      const running = (s: string) => s.split('\n').find((l) => l.startsWith('Running hypervisor:'));
      expect(running((await runCli(['version'])).out)).toBe(running(virsh(['version']).out));
    });
  },
);
