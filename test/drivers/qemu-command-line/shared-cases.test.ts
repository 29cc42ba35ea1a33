/**
 * libvirt's qemuxmlconf cases from ../shared (defaults output and argv both
 * equal), run through the same code as the `domainxml/qemu` conformance
 * family. Cases listed in KNOWN_GAPS are what virtkit does not model yet;
 * they are skipped by name so a regression in any other case fails here.
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

/** Cases whose features virtkit does not model yet (see the conformance report for each reason). */
export const KNOWN_GAPS = new Set<string>([
  'qemu/disk-network-tlsx509-nbd',
  'qemu/firmware-auto-efi-format-loader-qcow2-nvram-path',
  'qemu/firmware-auto-efi-no-secboot',
  'qemu/memory-hotplug-dimm-addr',
  'qemu/net-bandwidth',
  'qemu/serial-file-log',
]);

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
    const run = KNOWN_GAPS.has(c.name) ? it.skip : it;
    run(`${c.name}: defaults and argv equal libvirt's`, () => {
      expect(runCase(DIR, c, caps!)).toBeUndefined();
    });
  }
});
