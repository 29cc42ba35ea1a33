import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../shared-data.js';

describe('examples/harness-fault-injection.ts', () => {
  it('runs its four failure scenarios to the end', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'examples/harness-fault-injection.ts')],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(r.stderr).not.toMatch(/AssertionError/);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('all four failure scenarios handled as expected');
  });
});
