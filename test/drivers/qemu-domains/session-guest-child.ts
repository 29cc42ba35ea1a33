/**
 * Run as a separate Node process, usually as an unprivileged user (setpriv,
 * see as-nobody.ts), by the tests of what the driver does without root:
 * opens `uri` on the given roots, then for each guest defines it, starts it
 * paused (or boots it, reading its console), notes the processes and live XML, destroys and undefines it. Prints
 * one JSON line: an array with, per guest, `{"ok": true, ...}` or
 * `{"ok": false, "error": {code, field, message}}`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../../../src/connection.js';
import { isVirError } from '../../../src/errors.js';

const input = JSON.parse(process.argv[2] ?? '{}') as {
  root: string;
  xmls: string[];
  emulator: string;
  uri?: string;
  driverOptions?: Record<string, unknown>;
  /** Boot instead of a paused start: read the console until `until` appears (or `ms` pass). */
  boot?: { until: string; ms: number };
  /** Transient networks created (started) before the guests; one report each, before the guests'. */
  networks?: string[];
  /** Devices attached live to each guest once it runs, before its processes and live XML are noted. */
  attach?: string[];
};

/** The interfaces enslaved to each host bridge, as the kernel lists them. */
function bridgePortsNow(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const n of readdirSync('/sys/class/net')) {
    try {
      out[n] = readdirSync(`/sys/class/net/${n}/brif`).sort();
    } catch {
      // not a bridge
    }
  }
  return out;
}

/** Command lines of live processes that mention `marker`. */
function processesMentioning(marker: string): string[][] {
  const out: string[][] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').slice(0, -1);
      if (argv.join(' ').includes(marker) && !argv.some((a) => a.endsWith('session-guest-child.ts')))
        out.push(argv);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const conn = await connect(input.uri ?? 'qemu:///session', {
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
const results: Record<string, unknown>[] = [];
const errorOf = (err: unknown) =>
  isVirError(err)
    ? { code: err.code, field: err.field, message: err.message }
    : { code: 'NOT_VIR_ERROR', message: String(err) };
try {
  for (const xml of input.networks ?? []) {
    try {
      const net = await conn.networks.create(xml);
      results.push({ ok: true, uid: process.getuid?.(), liveXml: await net.getXML() });
    } catch (err) {
      results.push({ ok: false, uid: process.getuid?.(), error: errorOf(err) });
    }
  }
  for (const xml of input.xmls) {
    const uid = process.getuid?.();
    try {
      const dom = await conn.defineDomain(xml);
      try {
        let transcript: string | undefined;
        if (input.boot) {
          // paused first, so the console is open before the guest writes its first byte
          await dom.start({ paused: true });
          const stream = await dom.openConsole();
          transcript = '';
          const boot = input.boot;
          const done = new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, boot.ms);
            stream.on('data', (b: Buffer) => {
              transcript += b.toString('utf8');
              if (transcript?.includes(boot.until)) {
                clearTimeout(timer);
                resolve();
              }
            });
            stream.on('error', () => resolve());
          });
          await dom.resume();
          await done;
          stream.destroy();
        } else await dom.start({ paused: true });
        for (const dev of input.attach ?? []) await dom.attachDevice(dev, { live: true });
        const processes = processesMentioning(input.root);
        const liveXml = await dom.getXML();
        const state = await dom.getState();
        const bridgePorts = bridgePortsNow();
        await dom.destroy();
        results.push({
          ok: true,
          uid,
          state,
          after: await dom.getState(),
          processes,
          liveXml,
          transcript,
          bridgePorts,
        });
      } finally {
        if ((await dom.getState()).state !== 'shutoff') await dom.destroy().catch(() => {});
        await dom.undefine();
      }
    } catch (err) {
      results.push({ ok: false, uid, error: errorOf(err) });
    }
  }
} finally {
  for (const n of await conn.networks.list({ active: true }).catch(() => []))
    await n.destroy().catch(() => {});
  await conn.close();
}
process.stdout.write(`${JSON.stringify(results)}\n`);
