/**
 * What a caller does through the runner's own QMP connection, outside the
 * lifecycle the runner models: libvirt-qemu's passthrough (a QMP command
 * or an HMP line, the domain marked tainted `custom-monitor` in its log,
 * once per run as libvirt does) and `screendump` into the run directory.
 * Each is a job of the domain, so it never interleaves with the runner's
 * own commands.
 *
 * @module
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { VirError } from '../../../errors.js';
import type { QemuMonitorReply, QemuMonitorRequest } from '../../../qemu-monitor.js';
import { isQmpError } from '../qmp/index.js';
import { appendDomainLog } from './domain-log.js';
import type { RunnerCore } from './runner-core.js';

/** Taint flags already logged, per QEMU process (a new run starts clean, as libvirt clears them at stop). */
const taints = new WeakMap<object, Set<string>>();
/** Whether a QEMU process refused `screendump` with `format: 'png'` (then it writes PPM only). */
const noPng = new WeakSet<object>();

/** Options of one passthrough call. */
export interface MonitorCallOptions {
  readonly signal?: AbortSignal;
  /** Milliseconds to wait for the reply; default the runner's QMP timeout. */
  readonly timeout?: number;
}

/** A picture QEMU wrote: its bytes and whether they are PNG (else binary PPM, P6). */
export interface Screendump {
  readonly data: Uint8Array;
  readonly format: 'png' | 'ppm';
}

export class RunnerMonitor {
  readonly #core: RunnerCore;

  constructor(core: RunnerCore) {
    this.#core = core;
  }

  /**
   * Sends `req` and gives QEMU's reply: `{ return }` or `{ error }` for QMP
   * (a QEMU-side error is a reply), the text for HMP (an error thrown).
   */
  command(req: QemuMonitorRequest, opts: MonitorCallOptions = {}): Promise<QemuMonitorReply | string> {
    return this.#core.job(
      'monitor-command',
      async () => {
        const qmp = this.#core.requireMonitor();
        this.#taint('custom-monitor');
        const o = { ...(opts.signal ? { signal: opts.signal } : {}), ...timeoutOpt(opts.timeout) };
        if (req.kind === 'hmp') {
          const out = await qmp.execute('human-monitor-command', { 'command-line': req.commandLine }, o);
          return typeof out === 'string' ? out : '';
        }
        try {
          const ret = await qmp.execute(req.execute, req.arguments ? { ...req.arguments } : undefined, o);
          return { return: ret ?? {} };
        } catch (err) {
          if (!isQmpError(err, 'command')) throw err;
          const desc = err.message.replace(/^QMP command '[^']*' failed: /, '');
          return { error: { class: err.qmpClass ?? 'GenericError', desc } };
        }
      },
      opts.signal,
    );
  }

  /**
   * QEMU's `screendump` of one head (`device` the video's id, `head` its
   * output), PNG where this QEMU writes it, else PPM. The file lives in the
   * run directory (QEMU writes it itself) and is removed after reading.
   */
  screendump(
    target: { readonly device?: string; readonly head?: number },
    opts: MonitorCallOptions = {},
  ): Promise<Screendump> {
    return this.#core.job(
      'screenshot',
      async () => {
        const qmp = this.#core.requireMonitor();
        const proc = this.#core.proc as object;
        const file = join(this.#core.paths.runDir, `screendump-${process.pid}-${Date.now()}`);
        const o = { ...(opts.signal ? { signal: opts.signal } : {}), ...timeoutOpt(opts.timeout) };
        const args = {
          filename: file,
          ...(target.device !== undefined ? { device: target.device } : {}),
          ...(target.head !== undefined && target.device !== undefined ? { head: target.head } : {}),
        };
        try {
          let format: 'png' | 'ppm' = noPng.has(proc) ? 'ppm' : 'png';
          try {
            await qmp.execute('screendump', format === 'png' ? { ...args, format: 'png' } : args, o);
          } catch (err) {
            // An older QEMU (no `format`) or one built without libpng: it still writes PPM.
            if (format !== 'png' || !isQmpError(err, 'command') || !/format|png/i.test(err.message))
              throw err;
            noPng.add(proc);
            format = 'ppm';
            await qmp.execute('screendump', args, o);
          }
          return { data: new Uint8Array(readFileSync(file)), format };
        } catch (err) {
          if (isQmpError(err, 'command'))
            throw new VirError('OPERATION_FAILED', 'qemu', `screenshot failed: ${err.message}`, {
              cause: err,
            });
          throw err;
        } finally {
          rmSync(file, { force: true });
        }
      },
      opts.signal,
    );
  }

  #taint(flag: string): void {
    const proc = this.#core.proc;
    if (!proc) return;
    const set = taints.get(proc) ?? new Set<string>();
    taints.set(proc, set);
    if (set.has(flag)) return;
    set.add(flag);
    appendDomainLog(this.#core.logPath, `Domain id=${this.#core.id} is tainted: ${flag}`);
  }
}

function timeoutOpt(timeout: number | undefined): { timeoutMs?: number } {
  return timeout !== undefined ? { timeoutMs: timeout } : {};
}
