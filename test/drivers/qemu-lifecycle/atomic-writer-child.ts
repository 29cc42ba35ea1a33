/**
 * Run as a separate Node process by the atomic-write test: rewrites one file
 * with two alternating large contents until it is killed.
 */
import { writeFileAtomic } from '../../../src/drivers/qemu/lifecycle/atomic-file.js';

const [path = ''] = process.argv.slice(2);
const a = `<a>${'a'.repeat(256 * 1024)}</a>\n`;
const b = `<b>${'b'.repeat(300 * 1024)}</b>\n`;
process.stdout.write('ready\n');
for (let i = 0; ; i++) writeFileAtomic(path, i % 2 === 0 ? a : b);
