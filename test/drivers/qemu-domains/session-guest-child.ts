/**
 * Run as a separate Node process, usually as an unprivileged user (setpriv),
 * by the tests of what qemu:///session does without root: opens the driver
 * on the given roots, defines and starts (paused) the given guest, reports
 * the helper and QEMU command lines it saw, destroys the guest and prints
 * one JSON line: `{"ok": true, ...}` or `{"ok": false, "error": {code, field, message}}`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../../../src/connection.js';
import { isVirError } from '../../../src/errors.js';

const input = JSON.parse(process.argv[2] ?? '{}') as {
  root: string;
  xml: string;
  emulator: string;
  driverOptions?: Record<string, unknown>;
};

/** Command lines of live processes that mention `marker`. */
function processesMentioning(marker: string): string[][] {
  const out: string[][] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').slice(0, -1);
      if (argv.join(' ').includes(marker)) out.push(argv);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const conn = await connect('qemu:///session', {
  driverOptions: {
    cacheDir: null,
    runDir: join(input.root, 'rundir'),
    stateDir: join(input.root, 'state'),
    configDir: join(input.root, 'config'),
    logDir: join(input.root, 'log'),
    emulators: [input.emulator],
    ...input.driverOptions,
  },
});
let result: Record<string, unknown>;
try {
  const dom = await conn.defineDomain(input.xml);
  try {
    await dom.start({ paused: true });
    const processes = processesMentioning(input.root);
    const liveXml = await dom.getXML();
    const state = await dom.getState();
    await dom.destroy();
    result = { ok: true, uid: process.getuid?.(), state, processes, liveXml };
  } finally {
    await dom.undefine();
  }
} catch (err) {
  result = {
    ok: false,
    uid: process.getuid?.(),
    error: isVirError(err)
      ? { code: err.code, field: err.field, message: err.message }
      : { code: 'NOT_VIR_ERROR', message: String(err) },
  };
} finally {
  await conn.close();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
