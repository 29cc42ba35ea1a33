import { describe, expect, it } from 'vitest';
import { run } from '../../scripts/conformance/cpu.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../shared-data.js';

// A regression guard over libvirt's cputest cases; the runner reports the details.
describe.skipIf(!HAS_SHARED)(`cpu conformance family${SHARED_NOTE}`, () => {
  it('passes every case kind', async () => {
    const results = await run(SHARED_DIR);
    const failed = results.filter((r) => !r.ok);
    expect(results.length).toBeGreaterThanOrEqual(300);
    expect(failed.map((f) => `${f.name}: ${f.reason ?? ''}`)).toEqual([]);
  }, 120_000);
});
