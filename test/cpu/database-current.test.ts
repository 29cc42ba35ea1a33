/**
 * The shipped CPU database must be what the generator makes from libvirt's
 * CPU map (the facts it is built from); run `npm run gen:cpu-db` when not.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderX86Map } from '../../scripts/gen-cpu-db.js';
import { HAS_SHARED, REPO_ROOT, SHARED_DIR, SHARED_NOTE } from '../shared-data.js';

describe.skipIf(!HAS_SHARED)(`shipped CPU database${SHARED_NOTE}`, () => {
  it('is current with libvirt 11.3’s CPU map', () => {
    const fresh = renderX86Map(join(SHARED_DIR, 'cpu/map')).text;
    const shipped = readFileSync(join(REPO_ROOT, 'src/cpu/data/x86-map.ts'), 'utf8');
    expect(fresh === shipped).toBe(true);
  });
});
