/**
 * virtkit's save image: what `Domain.save`, `Connection.restoreDomain` and
 * managed save read and write. Our own format (libvirt's is not
 * interchangeable: its QEMU stream follows libvirt's own header):
 *
 * ```
 * offset  size  field
 *      0    16  magic: "VirtkitSaveImage" once complete, "VirtkitSavePart\0" while written
 *     16     4  format version, little-endian (1)
 *     20     4  flags, little-endian: bit 0 = the guest was running (else paused)
 *     24     4  length in bytes of the domain XML (UTF-8)
 *     28     4  offset of QEMU's migration stream (a multiple of 4096)
 *     32     n  the live domain XML, then zeros up to the stream
 * offset   ...  QEMU's migration stream, to the end of the file
 * ```
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
const VERSION = 1;
const FIXED = 32;
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
}

/**
 * Creates (or truncates) `path` with a partial header; returns where QEMU's
 * stream goes. Mode 0600: the image holds the guest's memory.
 */
export function writePartialHeader(path: string, xml: string, wasRunning: boolean): number {
  const body = Buffer.from(xml, 'utf8');
  const dataOffset = Math.ceil((FIXED + body.length) / ALIGN) * ALIGN;
  const head = Buffer.alloc(dataOffset);
  PARTIAL.copy(head, 0);
  head.writeUInt32LE(VERSION, 16);
  head.writeUInt32LE(wasRunning ? FLAG_RUNNING : 0, 20);
  head.writeUInt32LE(body.length, 24);
  head.writeUInt32LE(dataOffset, 28);
  body.copy(head, FIXED);
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
    const fixed = Buffer.alloc(FIXED);
    const got = readSync(fd, fixed, 0, FIXED, 0);
    const magic = fixed.subarray(0, 16);
    if (got === FIXED && magic.equals(PARTIAL)) {
      throw new VirError(
        'OPERATION_FAILED',
        'qemu',
        `save image '${path}' is partial: the save did not finish`,
        {
          field,
        },
      );
    }
    if (got < FIXED || !magic.equals(MAGIC)) notAnImage(path, field, 'no virtkit save image header');
    const version = fixed.readUInt32LE(16);
    if (version !== VERSION)
      notAnImage(path, field, `format version ${version}, this virtkit reads ${VERSION}`);
    const xmlLength = fixed.readUInt32LE(24);
    const dataOffset = fixed.readUInt32LE(28);
    if (
      xmlLength > MAX_XML_BYTES ||
      dataOffset % ALIGN !== 0 ||
      dataOffset < FIXED + xmlLength ||
      dataOffset >= size
    ) {
      notAnImage(path, field, 'its header does not fit the file');
    }
    const body = Buffer.alloc(xmlLength);
    if (readSync(fd, body, 0, xmlLength, FIXED) !== xmlLength) notAnImage(path, field, 'it is truncated');
    return {
      xml: body.toString('utf8'),
      wasRunning: (fixed.readUInt32LE(20) & FLAG_RUNNING) !== 0,
      dataOffset,
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
