/**
 * libvirt's qemuxmlconf cases from ../shared (defaults output, output to
 * itself, argv and schema), run through the same code as the
 * `domainxml/qemu` conformance family. Cases on the shared known-gaps list
 * (scripts/conformance/known-gaps.json) are what virtkit does not do yet:
 * they are expected to fail, so a regression in any other case fails here,
 * and so does a gap that starts passing while it is still listed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  harnessCaps,
  loadCaps,
  parseArgsFile,
  runCase,
} from '../../../scripts/conformance/domainxml-qemu.js';
import { knownGap } from '../../../scripts/conformance/known-gaps.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../../shared-data.js';

interface Case {
  name: string;
  family: string;
  expect: 'success' | 'parse-error';
  input: string;
  output?: string;
  args?: string;
}

const DIR = join(SHARED_DIR, 'domainxml');
const HAVE = HAS_SHARED && existsSync(join(DIR, 'cases.json')) && existsSync(join(SHARED_DIR, 'qemucaps'));

const cases: Case[] = HAVE
  ? (JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as Case[]).filter((c) => c.family === 'qemu')
  : [];

describe.skipIf(!HAVE)(`libvirt qemuxmlconf cases${HAVE ? '' : SHARED_NOTE}`, () => {
  const caps = HAVE ? harnessCaps(loadCaps(SHARED_DIR, '10.0.0')) : undefined;

  it('reads libvirt .args files back into the exact argv', () => {
    expect(
      parseArgsFile(
        "A=1 \\\n/usr/bin/q \\\n-name guest=x,debug-threads=on \\\n-cpu 'qemu64,hv-vendor-id=KVM Hv'",
      ),
    ).toEqual([
      'A=1',
      '/usr/bin/q',
      '-name',
      'guest=x,debug-threads=on',
      '-cpu',
      'qemu64,hv-vendor-id=KVM Hv',
    ]);
  });

  for (const c of cases) {
    const gap = knownGap('domainxml/qemu', c.name);
    if (gap === undefined) {
      it(`${c.name}: defaults and argv equal libvirt's`, async () => {
        expect(await runCase(DIR, c, caps!)).toBeUndefined();
      });
    } else {
      it.fails(`${c.name}: known gap, still fails (${gap.slice(0, 60)})`, async () => {
        expect(await runCase(DIR, c, caps!)).toBeUndefined();
      });
    }
  }
});
