/**
 * The snapshot commands' flags beside the installed virsh on
 * test:///default: the XML `snapshot-create-as --print-xml` builds (memspec
 * and diskspec, `,,` escapes), the option errors, and what the test driver
 * does with each create, revert and delete flag. Names are always given:
 * a generated name is the clock's second, which two runs could see differ.
 * Not compared yet: libvirt's test driver lines a snapshot's <memory> and
 * <disks> up with the domain's disks (`no disk named`, `must use snapshot
 * mode 'internal'`, no external memory file name for a disk not a regular
 * file), which virtkit's test driver does not check.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';
import { spawnVirsh } from './virsh-peer.js';

const HAS_VIRSH = spawnSync('virsh', ['--version'], { encoding: 'utf8' }).status === 0;

const LINES = [
  'help snapshot-create',
  'help snapshot-create-as',
  'help snapshot-revert',
  'help snapshot-delete',
  'help snapshot-list',
  // the list's filters by state, location and metadata on the test driver
  'snapshot-create-as test s1; destroy test; snapshot-create-as test s2; snapshot-list test --name --active',
  'snapshot-create-as test s1; destroy test; snapshot-create-as test s2; snapshot-list test --name --inactive',
  'snapshot-create-as test s1; snapshot-list test --name --internal; snapshot-list test --name --external',
  'snapshot-create-as test s1; snapshot-list test --name --internal --external --no-metadata',
  'snapshot-create-as test s1; snapshot-list test --name --metadata --no-metadata --disk-only',
  'snapshot-list test --tree --internal',
  'help snapshot-info',
  // --print-xml: the document virsh builds
  'snapshot-create-as test s1 --print-xml',
  `snapshot-create-as test s1 "d <x> & 'y'" --print-xml --memspec /tmp/m,,x,snapshot=external ` +
    '--diskspec vda,snapshot=external,driver=qcow2,file=/a,,b --diskspec hdb,stype=block,file=/dev/x --diskspec vdc',
  'snapshot-create-as test --print-xml --memspec snapshot=no',
  'snapshot-create-as test --print-xml --memspec file=/m,snapshot=internal',
  'snapshot-create-as test a b c d,,e --print-xml',
  'snapshot-create-as test --print-xml --diskspec vda,',
  'snapshot-create-as test --print-xml --diskspec vda,stype=file,file=/f',
  // parse errors
  'snapshot-create-as test --print-xml --memspec foo',
  'snapshot-create-as test --print-xml --memspec /a,/b',
  'snapshot-create-as test --print-xml --memspec ""',
  'snapshot-create-as test --print-xml --diskspec vda,stype=net',
  'snapshot-create-as test --print-xml --diskspec vda,bogus',
  'snapshot-create-as test --print-xml --diskspec vda,file=/a,file=/b',
  'snapshot-create-as nope --print-xml',
  'snapshot-create-as --print-xml',
  'snapshot-create test --print-xml',
  'snapshot-create-as test s1 --memspec',
  // create flags on the test driver
  'snapshot-create test --redefine',
  'snapshot-create test --current',
  'snapshot-create test --redefine --halt',
  'snapshot-create test --redefine --no-metadata',
  'snapshot-create-as test s1 --halt; domstate test --reason; snapshot-list test --name',
  'snapshot-create-as test s1 --no-metadata; snapshot-list test --name',
  'snapshot-create-as test s1 --disk-only',
  'snapshot-create-as test s1 --reuse-external',
  'snapshot-create-as test s1 --quiesce --atomic --live --validate; snapshot-list test --name',
  'snapshot-create-as test s1 --live --halt; domstate test --reason',
  'destroy test; snapshot-create-as test s1 --halt; domstate test --reason',
  // revert
  'snapshot-revert test',
  'snapshot-revert test --current',
  'snapshot-revert test s9',
  'snapshot-create-as test s1; snapshot-revert test s1 --current',
  'snapshot-create-as test s1; snapshot-revert test --current; domstate test --reason',
  'snapshot-create-as test s1; snapshot-revert test s1 --running --paused',
  'snapshot-create-as test s1; destroy test; snapshot-revert test s1 --paused; domstate test --reason',
  'snapshot-create-as test s1; suspend test; snapshot-revert test s1 --running; domstate test --reason',
  'snapshot-create-as test s1; snapshot-revert test s1 --reset-nvram',
  'snapshot-create-as test s1; snapshot-revert test s1 --force',
  'snapshot-create-as test s1 --halt; start test; snapshot-revert test s1; domstate test --reason',
  // delete
  'snapshot-delete test',
  'snapshot-delete test --current',
  'snapshot-delete test s9',
  'snapshot-create-as test s1; snapshot-delete test s1 --current',
  'snapshot-create-as test s1; snapshot-delete test s1 --children --children-only',
  'snapshot-create-as test s1; snapshot-create-as test s2; snapshot-delete test s1 --children-only; snapshot-list test --name',
  'snapshot-create-as test s1; snapshot-create-as test s2; snapshot-delete test s1 --children; snapshot-list test --name',
  'snapshot-create-as test s1; snapshot-create-as test s2; snapshot-delete test --current; snapshot-list test --name',
  'snapshot-create-as test s1; snapshot-delete test s1 --metadata; snapshot-list test --name',
];

describe.skipIf(!HAS_VIRSH)(
  `snapshot flags beside the installed virsh${HAS_VIRSH ? '' : ' (skipped: no virsh)'}`,
  () => {
    for (const line of LINES) {
      it(`virsh '${line}'`, async () => {
        const r = spawnVirsh(['-c', 'test:///default', line], {
          env: { ...process.env, LC_ALL: 'C', VIRSH_DEFAULT_CONNECT_URI: '' },
        });
        const ours = await runCli(['-c', 'test:///default', line]);
        expect(ours).toEqual({ code: r.status, out: r.stdout, err: r.stderr });
      });
    }
  },
);
