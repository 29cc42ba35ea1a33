/**
 * virtkit's save image: what `Domain.save`, `Connection.restoreDomain` and
 * managed save read and write. Our own format (libvirt's is not
 * interchangeable: its QEMU stream follows libvirt's own header):
 *
 * ```
 * offset  size  field
 *      0    16  magic: "VirtkitSaveImage" once complete, "VirtkitSavePart\0" while written
 *     16     4  format version, little-endian (2; version 1 is read too)
 *     20     4  flags, little-endian: bit 0 = the guest was running (else paused)
 *     24     4  length n in bytes of the domain XML (UTF-8)
 *     28     4  offset of QEMU's migration stream (a multiple of 4096)
 *     32     4  length c in bytes of the cookie XML (UTF-8), 0 for none (version 2)
 *     36     n  the domain XML, then the c bytes of the cookie, then zeros up to the stream
 * offset   ...  QEMU's migration stream, to the end of the file
 * ```
 *
 * Version 1 had no cookie field: its domain XML starts at 32. The domain XML
 * has the CPU the definition asked for; the cookie (`<cookie><cpu>`) has the
 * CPU the guest ran with when QEMU's read-back changed it, as libvirt's save
 * cookie, so a restore runs that CPU and still knows the asked-for one.
 *
 * The magic is written last, as libvirt does with its own: a save that did
 * not finish (killed, disk full) leaves a file that reads as partial, never
 * as an image to restore.
 *
 * @module
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { VirError } from '../../../errors.js';

const MAGIC = Buffer.from('VirtkitSaveImage', 'latin1');
const PARTIAL = Buffer.from('VirtkitSavePart\0', 'latin1');
const VERSION = 2;
/** The fixed part of the header, by format version. */
const FIXED: Record<number, number> = { 1: 32, 2: 36 };
const LONGEST_FIXED = 36;
const ALIGN = 4096;
/** Bound on the XML read back: a definition is far smaller; a larger one is not our file. */
const MAX_XML_BYTES = 16 * 1024 * 1024;
const FLAG_RUNNING = 1;

/** What the header of a save image says. */
export interface SaveImageHeader {
  /** The live definition of the guest when it was saved. */
  readonly xml: string;
  /** Whether the guest ran (else it was paused) when saved; a restore resumes it so. */
  readonly wasRunning: boolean;
  /** Where QEMU's migration stream starts. */
  readonly dataOffset: number;
  /** The cookie XML (`<cookie>`), when the save wrote one. */
  readonly cookie?: string;
}

/**
 * Creates (or truncates) `path` with a partial header; returns where QEMU's
 * stream goes. Mode 0600: the image holds the guest's memory.
 */
export function writePartialHeader(path: string, xml: string, wasRunning: boolean, cookie?: string): number {
  const body = Buffer.from(xml, 'utf8');
  const crumb = Buffer.from(cookie ?? '', 'utf8');
  const fixed = LONGEST_FIXED;
  const dataOffset = Math.ceil((fixed + body.length + crumb.length) / ALIGN) * ALIGN;
  const head = Buffer.alloc(dataOffset);
  PARTIAL.copy(head, 0);
  head.writeUInt32LE(VERSION, 16);
  head.writeUInt32LE(wasRunning ? FLAG_RUNNING : 0, 20);
  head.writeUInt32LE(body.length, 24);
  head.writeUInt32LE(dataOffset, 28);
  head.writeUInt32LE(crumb.length, 32);
  body.copy(head, fixed);
  crumb.copy(head, fixed + body.length);
  const fd = openSync(path, 'w', 0o600);
  try {
    writeSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  return dataOffset;
}

/** Marks the image complete once QEMU's stream is on disk (both synced first). */
export function completeHeader(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
    writeSync(fd, MAGIC, 0, MAGIC.length, 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a save image's header. A file that is not one is `INVALID_ARG`
 * naming `path`; a save that did not finish is `OPERATION_FAILED` with
 * `partial` in its message (see {@link isPartialImage}).
 */
export function readSaveHeader(path: string, field = 'path'): SaveImageHeader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new VirError(
      'SYSTEM_ERROR',
      'qemu',
      `cannot open save image '${path}': ${(err as Error).message}`,
      {
        field,
        cause: err,
      },
    );
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(LONGEST_FIXED);
    const got = readSync(fd, head, 0, LONGEST_FIXED, 0);
    const magic = head.subarray(0, 16);
    if (got >= 32 && magic.equals(PARTIAL)) {
      throw new VirError(
        'OPERATION_FAILED',
        'qemu',
        `save image '${path}' is partial: the save did not finish`,
        {
          field,
        },
      );
    }
    if (got < 32 || !magic.equals(MAGIC)) notAnImage(path, field, 'no virtkit save image header');
    const version = head.readUInt32LE(16);
    const fixed = FIXED[version];
    if (fixed === undefined)
      notAnImage(
        path,
        field,
        `format version ${version}, this virtkit reads ${Object.keys(FIXED).join(' and ')}`,
      );
    if (got < fixed) notAnImage(path, field, 'it is truncated');
    const xmlLength = head.readUInt32LE(24);
    const dataOffset = head.readUInt32LE(28);
    const cookieLength = version >= 2 ? head.readUInt32LE(32) : 0;
    if (
      xmlLength > MAX_XML_BYTES ||
      cookieLength > MAX_XML_BYTES ||
      dataOffset % ALIGN !== 0 ||
      dataOffset < fixed + xmlLength + cookieLength ||
      dataOffset >= size
    ) {
      notAnImage(path, field, 'its header does not fit the file');
    }
    const body = Buffer.alloc(xmlLength + cookieLength);
    if (readSync(fd, body, 0, body.length, fixed) !== body.length) notAnImage(path, field, 'it is truncated');
    const cookie = body.subarray(xmlLength).toString('utf8');
    return {
      xml: body.subarray(0, xmlLength).toString('utf8'),
      wasRunning: (head.readUInt32LE(20) & FLAG_RUNNING) !== 0,
      dataOffset,
      ...(cookie !== '' ? { cookie } : {}),
    };
  } finally {
    closeSync(fd);
  }
}

/** Whether `err` is {@link readSaveHeader}'s refusal of a save that did not finish. */
export function isPartialImage(err: unknown): boolean {
  return err instanceof VirError && err.code === 'OPERATION_FAILED' && err.message.includes('is partial');
}

function notAnImage(path: string, field: string, why: string): never {
  throw new VirError('INVALID_ARG', 'qemu', `'${path}' is not a save image: ${why}`, { field });
}
