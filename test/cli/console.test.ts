/**
 * `virtkit console`: the terminal's bytes go to the guest until Ctrl-], the
 * guest's bytes are shown untouched, and a driver without consoles (the test
 * driver, as libvirt's) fails with its words.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseOptions } from '../../src/cli/args.js';
import type { CommandContext } from '../../src/cli/command.js';
import { consoleCommands } from '../../src/cli/commands/console.js';
import { Session } from '../../src/cli/session.js';

const consoleCommand = consoleCommands[0]!;

describe('virtkit console', () => {
  it('pipes both ways and detaches on Ctrl-], sending nothing after it', async () => {
    const toGuest: Buffer[] = [];
    const guestSide = new PassThrough();
    // What the command writes to the console stream lands in toGuest; what the guest says comes from guestSide.
    const duplex = Object.assign(guestSide, {
      write: (chunk: Buffer) => {
        toGuest.push(Buffer.from(chunk));
        return true;
      },
    });
    const input = new PassThrough();
    const output = new PassThrough();
    const shown: Buffer[] = [];
    output.on('data', (d: Buffer) => shown.push(d));
    const lines: string[] = [];
    let asked: unknown[] = [];
    const ctx = {
      domain: async () => ({
        name: 'vm1',
        openConsole: async (...args: unknown[]) => {
          asked = args;
          return duplex;
        },
      }),
      out: (l: string) => lines.push(l),
      extra: (l: string) => lines.push(l),
      signal: new AbortController().signal,
      terminal: { input, output },
    } as unknown as CommandContext;
    const done = consoleCommand.run(
      ctx,
      parseOptions('console', consoleCommand.options, ['vm1', '--devname', 'serial1', '--force']),
    );
    await new Promise((r) => setTimeout(r, 10));
    guestSide.push(Buffer.from('login: \x1b[0m'));
    input.write(Buffer.from('root\r'));
    await new Promise((r) => setTimeout(r, 10));
    input.write(Buffer.from('ls\x1dnot this'));
    expect(await done).toBe(true);
    expect(asked).toEqual(['serial1', { force: true }]);
    expect(Buffer.concat(toGuest).toString()).toBe('root\rls');
    expect(Buffer.concat(shown).toString()).toBe('login: \x1b[0m');
    expect(lines).toEqual(["Connected to domain 'vm1'", 'Escape character is ^] (Ctrl + ])']);
    expect(guestSide.destroyed).toBe(true);
  });

  it("on test:/// fails as libvirt's test driver does: consoles are not supported", async () => {
    const err: string[] = [];
    const session = new Session({
      uri: 'test:///default',
      readonly: false,
      quiet: true,
      out: () => {},
      err: (l) => err.push(l),
    });
    try {
      expect((await session.run([['console', 'test']])).ok).toBe(false);
    } finally {
      await session.close();
    }
    expect(err.join('\n')).toMatch(/not support/);
  });
});
