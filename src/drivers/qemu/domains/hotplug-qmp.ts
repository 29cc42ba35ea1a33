/**
 * The QMP side of device hotplug: the options the command-line builders
 * write for one device, sent as the monitor commands that create the same
 * objects (`-blockdev` → `blockdev-add`, `-netdev` → `netdev_add`,
 * `-object` → `object-add`, `-chardev` → `chardev-add`, `-device` → `device_add`), undone in reverse
 * when a step fails; and an unplug that waits for QEMU's `DEVICE_DELETED`.
 *
 * @module
 */
import { VirError } from '../../../errors.js';
import { acpiEjectRefused } from '../lifecycle/qmp-domain-events.js';
import type { QmpClient, QmpEvent } from '../qmp/index.js';
import { chardevAddArgs } from './hotplug-chardev.js';

/** One monitor command made from one command-line option, with the command that removes its object. */
export interface PlugStep {
  readonly command: string;
  readonly args: Record<string, unknown>;
  readonly undo: { readonly command: string; readonly args: Record<string, unknown> } | undefined;
}

/** How long an unplug waits for `DEVICE_DELETED` before it returns with the device still there (libvirt: 5 s). */
export const UNPLUG_WAIT_MS = 5000;

/**
 * The monitor commands for options the builder wrote as JSON
 * (`ArgvBuilder` with `json`), in their order; an option with no monitor
 * equivalent is refused before anything is sent.
 */
export function plugSteps(argv: readonly string[], field: string): PlugStep[] {
  const steps: PlugStep[] = [];
  for (let i = 0; i < argv.length; i += 2) {
    const option = argv[i] as string;
    const value = argv[i + 1];
    if (option === '-chardev' && value !== undefined) {
      // the one option QEMU takes as a key=value list only: chardev-add has its own shape
      const args = chardevAddArgs(value, field);
      steps.push({
        command: 'chardev-add',
        args,
        undo: { command: 'chardev-remove', args: { id: args.id } },
      });
      continue;
    }
    const args = value === undefined ? undefined : parseJson(value);
    if (!args) {
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `'${option}' cannot be hot-plugged`, { field });
    }
    switch (option) {
      case '-blockdev':
        steps.push({
          command: 'blockdev-add',
          args,
          undo: { command: 'blockdev-del', args: { 'node-name': args['node-name'] } },
        });
        break;
      case '-object':
        steps.push({ command: 'object-add', args, undo: { command: 'object-del', args: { id: args.id } } });
        break;
      case '-netdev':
        steps.push({ command: 'netdev_add', args, undo: { command: 'netdev_del', args: { id: args.id } } });
        break;
      case '-device':
        steps.push({ command: 'device_add', args, undo: undefined });
        break;
      default:
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `'${option}' cannot be hot-plugged`, { field });
    }
  }
  return steps;
}

function parseJson(s: string): Record<string, unknown> | undefined {
  if (!s.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(s);
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sends the steps in order; when one fails, removes what the earlier ones
 * made (in reverse) and throws the failure: nothing stays half-plugged.
 * Resolves to each command's reply, in order.
 */
export async function runSteps(
  qmp: QmpClient,
  steps: readonly PlugStep[],
  signal?: AbortSignal,
): Promise<unknown[]> {
  const done: PlugStep[] = [];
  const results: unknown[] = [];
  try {
    for (const s of steps) {
      results.push(await qmp.execute(s.command, s.args, signal ? { signal } : {}));
      done.push(s);
    }
    return results;
  } catch (err) {
    await undoSteps(qmp, done);
    throw err;
  }
}

/** Removes what `steps` made, last first; a failure to remove one does not stop the others. */
export async function undoSteps(qmp: QmpClient, steps: readonly PlugStep[]): Promise<void> {
  for (const s of [...steps].reverse()) {
    if (!s.undo) continue;
    try {
      await qmp.execute(s.undo.command, s.undo.args);
    } catch {
      // the guest may be gone (then so is the object); nothing more to undo
    }
  }
}

/** Whether `ev` says the guest refused to release device `id` (as libvirt reads QEMU's events). */
function guestRejected(ev: QmpEvent, id: string): boolean {
  if (ev.event === 'DEVICE_UNPLUG_GUEST_ERROR') return ev.data?.device === id;
  return ev.event === 'ACPI_DEVICE_OST' && acpiEjectRefused(ev.data) === id;
}

/**
 * `device_del` of `id`, then waits for QEMU's `DEVICE_DELETED` of it (the
 * guest must release it). Resolves `true` once it is gone, `false` after
 * `waitMs` with the device still present; `late` then runs when it goes.
 * `OPERATION_FAILED` when the guest refuses it (see {@link guestRejected}).
 */
export async function unplugDevice(
  qmp: QmpClient,
  id: string,
  options: { waitMs?: number; signal?: AbortSignal; late?: () => void } = {},
): Promise<boolean> {
  let resolveGone: () => void = () => {};
  let gone = false;
  const goneNow = new Promise<void>((r) => {
    resolveGone = r;
  });
  let rejected = false;
  let resolveRejected: () => void = () => {};
  const rejectedNow = new Promise<void>((r) => {
    resolveRejected = r;
  });
  const off = qmp.onEvent((ev: QmpEvent) => {
    if (guestRejected(ev, id)) {
      rejected = true;
      resolveRejected();
      return;
    }
    if (ev.event !== 'DEVICE_DELETED' || ev.data?.device !== id) return;
    gone = true;
    resolveGone();
  });
  try {
    await qmp.execute('device_del', { id }, options.signal ? { signal: options.signal } : {});
  } catch (err) {
    off();
    throw err;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<void>((r) => {
    timer = setTimeout(r, options.waitMs ?? UNPLUG_WAIT_MS);
  });
  await Promise.race([goneNow, timedOut, rejectedNow]);
  if (timer) clearTimeout(timer);
  if (gone) {
    off();
    return true;
  }
  if (rejected) {
    off();
    throw new VirError('OPERATION_FAILED', 'qemu', 'unplug of device was rejected by the guest', {
      field: `alias(${id})`,
    });
  }
  // the guest may still release it: keep listening, once
  void goneNow.then(() => {
    off();
    options.late?.();
  });
  return false;
}
