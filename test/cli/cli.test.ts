import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { fixture } from '../shared-data.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    argv,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('virtkit CLI', () => {
  it('prints nodeinfo as virsh does for test:///default', async () => {
    const r = await run('-c', 'test:///default', 'nodeinfo');
    expect(r.code).toBe(0);
    expect(`${r.out}\n`).toBe(
      readFileSync(fixture('virsh/test-default-nodeinfo.txt'), 'utf8').replace(/\n+$/, '\n'),
    );
  });

  it('prints capabilities identical to virsh', async () => {
    const r = await run('capabilities');
    expect(`${r.out}\n`).toBe(readFileSync(fixture('virsh/test-default-capabilities.xml'), 'utf8'));
  });

  it('lists the running default domain with the same id and name as virsh', async () => {
    const r = await run('list', '--all');
    const virsh = readFileSync(fixture('virsh/test-default-list.txt'), 'utf8');
    const row = (text: string) =>
      text
        .split('\n')
        .find((l) => /\btest\b/.test(l))
        ?.trim()
        .split(/\s+/);
    expect(row(r.out)).toEqual(row(virsh));
  });

  it('reports a missing domain with its error code and exit status 1', async () => {
    const r = await run('dominfo', 'nope');
    expect(r.code).toBe(1);
    expect(r.err).toBe("error: NO_DOMAIN: no domain with matching name 'nope'");
  });

  it('exits 2 on usage mistakes', async () => {
    expect((await run('frobnicate')).code).toBe(2);
    expect((await run('dominfo')).code).toBe(2);
    expect((await run('--bogus')).code).toBe(2);
    expect((await run()).code).toBe(2);
    expect((await run('help')).code).toBe(0);
  });

  it('refuses an unknown URI scheme', async () => {
    const r = await run('-c', 'nope:///x', 'list');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: NO_CONNECT:/);
  });
});
