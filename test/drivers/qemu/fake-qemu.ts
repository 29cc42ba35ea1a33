/**
 * Writes small executables that pretend to be QEMU for fault tests: they
 * connect to the monitor socket given by `-chardev socket,...,path=P` and
 * then misbehave in a chosen way.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type FakeQemuMode =
  /** Greets, accepts qmp_capabilities, then exits on the next command. */
  | 'crash-mid-probe'
  /** Greets, accepts qmp_capabilities, then answers garbage. */
  | 'garbage'
  /** Greets, accepts qmp_capabilities, then writes half a reply and ends its side (exiting once we close). */
  | 'truncated'
  /** Connects but never greets. */
  | 'silent';

export function writeFakeQemu(dir: string, mode: FakeQemuMode): string {
  const file = join(dir, `fake-qemu-${mode}`);
  const script = `#!${process.execPath}
const net = require('node:net');
const args = process.argv.slice(2);
const chardev = args[args.indexOf('-chardev') + 1] || '';
const path = chardev.split(',').find((p) => p.startsWith('path=')).slice(5);
const mode = ${JSON.stringify(mode)};
// Half-open: after a truncated reply the read side stays open, so a command the client pipelines
// behind it is still accepted instead of failing with EPIPE (which would discard the partial
// reply unread and make the test depend on scheduling).
const sock = net.createConnection({ path, allowHalfOpen: true });
sock.on('error', () => process.exit(3));
sock.on('end', () => sock.end());
sock.on('connect', () => {
  if (mode === 'silent') return;
  sock.write(JSON.stringify({ QMP: { version: { qemu: { major: 9, minor: 0, micro: 0 }, package: '' }, capabilities: [] } }) + '\\r\\n');
});
let buf = '';
let seen = 0;
sock.on('data', (d) => {
  buf += d;
  let nl;
  while ((nl = buf.indexOf('\\n')) >= 0) {
    const cmd = JSON.parse(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
    seen++;
    if (cmd.execute === 'qmp_capabilities') { sock.write(JSON.stringify({ return: {}, id: cmd.id }) + '\\r\\n'); continue; }
    if (mode === 'crash-mid-probe') process.exit(139);
    if (mode === 'garbage') sock.write('%%% not json %%%\\r\\n');
    if (mode === 'truncated' && sock.writableEnded) continue;
    if (mode === 'truncated') { sock.write('{"return": {"qemu": {"maj'); sock.end(); sock.on('close', () => process.exit(0)); }
  }
});
setTimeout(() => process.exit(0), 60000);
`;
  writeFileSync(file, script);
  chmodSync(file, 0o755);
  return file;
}

/** A shell wrapper around the real QEMU: a binary whose identity the test controls. */
export function writeQemuWrapper(dir: string, qemu: string, name = 'qemu-wrapper'): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\nexec ${qemu} "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}
