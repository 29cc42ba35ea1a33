/**
 * `edit`, `net-edit` and `pool-edit` with an $EDITOR that is a sed script:
 * beside the installed virsh on test:///default (the temporary file's
 * name masked), and on their own for what virsh 9 gets wrong without a
 * terminal (a failed define reported as edited): the error, a failed
 * status, and no temporary file left; on a terminal, the question and a
 * second edit that succeeds.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { Session } from '../../src/cli/session.js';
import { runCli } from './run-cli.js';
import { spawnVirsh } from './virsh-peer.js';

const HAS_VIRSH = spawnSync('virsh', ['--version'], { encoding: 'utf8' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'vk-cli2-edit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const script = (name: string, body: string) => {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
};
const NOOP = script('noop.sh', 'exit 0');
const HALVE = script('halve.sh', `sed -i 's/8388608/4194304/' "$1"`);
const POOL = script('pool.sh', `sed -i 's|<path>/default-pool</path>|<path>/dp2</path>|' "$1"`);
const NET = script('net.sh', `sed -i "s|<forward mode='nat'/>|<forward mode='route'/>|" "$1"`);
const BAD = script('bad.sh', `sed -i 's/>8388608</>abc</' "$1"`);
const TMP = /\/\S*?(virsh|virtkit)\w+\.xml/g;

describe.skipIf(!HAS_VIRSH)(
  `the edit commands beside virsh${HAS_VIRSH ? '' : ' (skipped: no virsh)'}`,
  () => {
    for (const [editor, line] of [
      [NOOP, 'edit test; net-edit default; pool-edit default-pool'],
      [HALVE, 'edit test; dumpxml --inactive test'],
      [POOL, 'pool-edit default-pool; pool-info default-pool'],
      [NET, 'net-edit default; net-dumpxml default'],
      ['false', 'edit test'],
      ['sed -i s/8388608/4194304/', 'edit test; list --all'],
      ['sed -i s/<name>test/<name>x/', 'edit test'],
      [NOOP, 'edit nope; net-edit nope; pool-edit nope'],
      [NOOP, 'edit --help; net-edit --help; pool-edit --help'],
    ] as const) {
      it(`EDITOR='${editor.replace(dir, 'DIR')}' virsh '${line}'`, async () => {
        const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', EDITOR: editor };
        delete env.VISUAL;
        const r = spawnVirsh(['-c', 'test:///default', line], { env });
        const ours = await runCli(['-c', 'test:///default', line], { env: { EDITOR: editor } });
        const mask = (x: { code: number; out: string; err: string }) => ({
          code: x.code,
          out: x.out.replace(TMP, 'TMP'),
          // the shell's own complaint goes to the terminal, which the in-process run does not capture
          err: x.err.replace(TMP, 'TMP').replace(/^sh: .*\n/gm, ''),
        });
        expect(mask(ours)).toEqual(mask({ code: r.status ?? -1, out: r.stdout, err: r.stderr }));
      });
    }
  },
);

describe('edit on its own', () => {
  it('$VISUAL wins over $EDITOR', async () => {
    const r = await runCli(['-c', 'test:///default', 'edit test; dumpxml test --inactive'], {
      env: { VISUAL: HALVE, EDITOR: 'false' },
    });
    expect(r.code).toBe(0);
    expect(r.out).toContain("<memory unit='KiB'>4194304</memory>");
  });

  it('without a terminal a failed define fails with the error, and the temporary file is gone', async () => {
    const tmp = mkdtempSync(join(dir, 'tmp-'));
    const r = await runCli(['-c', 'test:///default', 'edit test; dumpxml test --inactive'], {
      env: { EDITOR: BAD, TMPDIR: tmp },
    });
    expect(r.err.split('\n')[0]).toMatch(/^error: XML document failed to validate: line \d+: .*'abc'/);
    expect(r.err.split('\n').slice(1)).toEqual(['error: Failed.', '']);
    expect(r.out).toContain("<memory unit='KiB'>8388608</memory>");
    expect(r.code).toBe(0); // the line's status is its last command's, dumpxml
    expect(readdirSync(tmp)).toEqual([]);
    const alone = await runCli(['-c', 'test:///default', 'edit test'], { env: { EDITOR: BAD, TMPDIR: tmp } });
    expect(alone.code).toBe(1);
  });

  it('on a terminal, asks, and edits again on y', async () => {
    // the first edit breaks the document, the second puts a valid value in
    const count = join(dir, 'count');
    const twice = script(
      'twice.sh',
      `if [ -e ${count} ]; then sed -i 's/>abc</>4194304</' "$1"; else touch ${count}; sed -i 's/>8388608</>abc</' "$1"; fi`,
    );
    const input = Object.assign(Readable.from(['y\n']), { isTTY: true });
    const output = new PassThrough();
    let shown = '';
    output.on('data', (b) => {
      shown += b;
    });
    const out: string[] = [];
    const err: string[] = [];
    const session = new Session({
      uri: 'test:///default',
      readonly: false,
      quiet: false,
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      terminal: { input, output },
      env: { EDITOR: twice },
    });
    try {
      const r = await session.run([
        ['edit', 'test'],
        ['dumpxml', 'test', '--inactive'],
      ]);
      expect(r.ok).toBe(true);
    } finally {
      await session.close();
    }
    expect(existsSync(count)).toBe(true);
    expect(shown).toContain('Failed. Try again? [y,n,?]:');
    expect(err).toHaveLength(1);
    expect(out[0]).toBe("Domain 'test' XML configuration edited.");
    expect(out.join('\n')).toContain("<memory unit='KiB'>4194304</memory>");
  });
});
