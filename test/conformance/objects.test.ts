/**
 * libvirt's storage pool/volume, network, node device and secret xml2xml
 * cases (../shared/conformance/objects) through our models and schemas.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { knownGap } from '../../scripts/conformance/known-gaps.js';
import { type ObjectCase, runCase } from '../../scripts/conformance/objects.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../shared-data.js';

const dir = join(SHARED_DIR, 'objects');
const cases: ObjectCase[] = HAS_SHARED ? JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) : [];

describe.skipIf(!HAS_SHARED)(`objects xml2xml cases${SHARED_NOTE}`, () => {
  it.each(cases.filter((c) => knownGap('objects', c.name) === undefined).map((c) => [c.name, c] as const))(
    '%s',
    async (_name, c) => {
      expect(await runCase(dir, c)).toBeUndefined();
    },
  );

  it('passes vol-qcow2-nocapacity with the no-capacity flag libvirt parses it with', async () => {
    const c = cases.find((x) => x.name === 'storagevol/vol-qcow2-nocapacity');
    expect(c).toBeDefined();
    if (c) expect(await runCase(dir, { ...c, flags: ['no-capacity'] })).toBeUndefined();
  });
});
