import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../src/drivers/qemu/lifecycle/atomic-file.js';
import { tempRoots } from './helpers.js';

describe('atomic status writes', () => {
  it('leaves the old or the new content when the writer is killed with SIGKILL, never a mix', async () => {
    const dir = tempRoots('vk-atomic-');
    try {
      const file = join(dir.path, 'guest.xml');
      writeFileAtomic(file, `<a>${'a'.repeat(256 * 1024)}</a>\n`);
      for (let round = 0; round < 3; round++) {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', join(import.meta.dirname, 'atomic-writer-child.ts'), file],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        await new Promise<void>((res) => child.stdout.once('data', () => res()));
        await new Promise((res) => setTimeout(res, 50 + round * 40));
        const exited = new Promise<void>((res) => child.once('exit', () => res()));
        child.kill('SIGKILL');
        await exited;
        const content = readFileSync(file, 'utf8');
        expect([`<a>${'a'.repeat(256 * 1024)}</a>\n`, `<b>${'b'.repeat(300 * 1024)}</b>\n`]).toContain(
          content,
        );
      }
      // The only litter a kill can leave is a dot-named temporary file, never the target half-written.
      expect(readdirSync(dir.path).filter((f) => !f.startsWith('.'))).toEqual(['guest.xml']);
    } finally {
      dir.remove();
    }
  });

  it('reports an unwritable directory as WRITE_FAILED and leaves nothing behind', () => {
    expect(() => writeFileAtomic('/proc/no-such-dir/x.xml', 'x')).toThrow(
      expect.objectContaining({ code: 'WRITE_FAILED' }),
    );
  });
});
