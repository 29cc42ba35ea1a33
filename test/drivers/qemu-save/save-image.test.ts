/**
 * The save image header (format documented in lifecycle/save-image.ts):
 * what is written reads back, and files that are not whole images are
 * refused with the field at fault, never taken for one.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  completeHeader,
  isPartialImage,
  readSaveHeader,
  writePartialHeader,
} from '../../../src/drivers/qemu/lifecycle/index.js';
import { VirError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'vk-save-image-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function caught(f: () => unknown): VirError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(VirError);
    return err as VirError;
  }
  throw new Error('no error');
}

describe('save image header', () => {
  const xml = "<domain type='qemu'><name>h\u00e9</name></domain>";

  it('reads back what was written, once complete; the stream starts on a 4 KiB boundary', () => {
    const file = join(dir, 'a.img');
    const offset = writePartialHeader(file, xml, true);
    expect(offset % 4096).toBe(0);
    writeFileSync(file, Buffer.from('QEVM stream'), { flag: 'a' });
    expect(isPartialImage(caught(() => readSaveHeader(file)))).toBe(true);
    completeHeader(file);
    expect(readSaveHeader(file)).toEqual({ xml, wasRunning: true, dataOffset: offset });
    expect(readFileSync(file).subarray(offset).toString()).toBe('QEVM stream');
    // mode 0600: the image holds the guest's memory
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('keeps the cookie beside the XML, and reads a version 1 image (no cookie field) as before', () => {
    const file = join(dir, 'c.img');
    const cookie =
      "<cookie><cpu mode='custom' match='exact' check='full'><model>qemu64</model></cpu></cookie>";
    const offset = writePartialHeader(file, xml, false, cookie);
    writeFileSync(file, Buffer.from('QEVM'), { flag: 'a' });
    completeHeader(file);
    expect(readSaveHeader(file)).toEqual({ xml, wasRunning: false, dataOffset: offset, cookie });
    // version 1, laid out by hand: the XML at 32
    const v1 = Buffer.alloc(4096 + 4);
    Buffer.from('VirtkitSaveImage', 'latin1').copy(v1, 0);
    v1.writeUInt32LE(1, 16);
    v1.writeUInt32LE(1, 20);
    v1.writeUInt32LE(Buffer.byteLength(xml), 24);
    v1.writeUInt32LE(4096, 28);
    Buffer.from(xml, 'utf8').copy(v1, 32);
    writeFileSync(file, v1);
    expect(readSaveHeader(file)).toEqual({ xml, wasRunning: true, dataOffset: 4096 });
  });

  it('refuses files that are not whole images, naming the field', () => {
    const file = join(dir, 'b.img');
    writePartialHeader(file, xml, false);
    // no stream after the header
    completeHeader(file);
    const empty = caught(() => readSaveHeader(file, 'managed save'));
    expect(empty.code).toBe('INVALID_ARG');
    expect(empty.field).toBe('managed save');
    writeFileSync(file, Buffer.from('short'));
    expect(caught(() => readSaveHeader(file)).code).toBe('INVALID_ARG');
    // a header whose XML length runs past the stream offset
    const bad = Buffer.alloc(8192);
    Buffer.from('VirtkitSaveImage', 'latin1').copy(bad, 0);
    bad.writeUInt32LE(1, 16);
    bad.writeUInt32LE(5000, 24);
    bad.writeUInt32LE(4096, 28);
    writeFileSync(file, bad);
    expect(caught(() => readSaveHeader(file)).message).toContain('does not fit');
    bad.writeUInt32LE(3, 16);
    writeFileSync(file, bad);
    expect(caught(() => readSaveHeader(file)).message).toContain(
      'format version 3, this virtkit reads 1 and 2',
    );
    // a cookie whose length runs past the stream offset
    bad.writeUInt32LE(2, 16);
    bad.writeUInt32LE(100, 24);
    bad.writeUInt32LE(4000, 32);
    writeFileSync(file, bad);
    expect(caught(() => readSaveHeader(file)).message).toContain('does not fit');
    truncateSync(file, 0);
    expect(caught(() => readSaveHeader(file)).code).toBe('INVALID_ARG');
    expect(caught(() => readSaveHeader(join(dir, 'none.img'))).code).toBe('SYSTEM_ERROR');
  });
});
