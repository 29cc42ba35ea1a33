/**
 * Fault injection for harnesses: a {@link TestControl} is handed to a
 * `test:///` connection through `driverOptions.control` and then makes chosen
 * calls fail or wait, and makes guests crash, power off or reboot on their
 * own, the way a real hypervisor sometimes does.
 *
 * @example
 * ```ts
 * const control = new TestControl();
 * const conn = await connect('test:///default', { driverOptions: { control } });
 * control.fail('domainStart', { code: 'OPERATION_FAILED', message: 'disk image is locked' });
 * await expect(app.startVm('test')).rejects.toThrow('disk image is locked');
 * ```
 *
 * @module
 */
import type { DomainRef, DriverConnection } from '../../driver.js';
import { VirError, type VirErrorCode } from '../../errors.js';

/** Driver methods a fault can target (the names of {@link DriverConnection}'s calls). */
export type TestMethod = {
  [K in keyof DriverConnection]-?: NonNullable<DriverConnection[K]> extends (...args: never[]) => unknown
    ? K extends 'close' | 'subscribe'
      ? never
      : K
    : never;
}[keyof DriverConnection];

/** One call as fault predicates see it. */
export interface TestCall {
  /** The driver method being called. */
  readonly method: TestMethod;
  /** The domain the call is about, when it is a domain call. */
  readonly domain?: DomainRef;
  /** The XML given to `defineDomain` or `createDomain`. */
  readonly xml?: string;
}

/** Which calls a fault applies to. */
export interface FaultMatch {
  /** Only calls this returns true for (in addition to the method names). */
  when?: (call: TestCall) => boolean;
  /** How many matching calls the fault applies to. Default 1; `Infinity` for all. */
  times?: number;
}

/** The error a failing call raises: a ready `VirError` or a code and message. */
export type FaultError =
  | VirError
  | {
      /** The code the failing call's `VirError` gets. */
      code: VirErrorCode;
      /** Its message; a generic one naming the call when absent. */
      message?: string;
    };

/** A registered fault; `remove()` cancels it, `remaining` counts the calls it still applies to. */
export interface Fault {
  /** How many more calls it applies to. */
  readonly remaining: number;
  /** Cancels the fault. */
  remove(): void;
}

/** What the connection behind a control lets the control do to it. */
export interface ControlledHost {
  /** The guest crashes (panics); `on_crash` decides what happens next. */
  crashGuest(key: string): void;
  /** The guest powers itself off; `on_poweroff` decides what happens next. */
  guestShutdown(key: string): void;
  /** The guest reboots itself; `on_reboot` decides what happens next. */
  guestReboot(key: string): void;
}

interface FaultEntry {
  readonly methods: ReadonlySet<string> | undefined;
  readonly when: ((call: TestCall) => boolean) | undefined;
  remaining: number;
  readonly action: { kind: 'fail'; error: FaultError } | { kind: 'delay'; ms: number };
}

/** A method name, a list of them, or `'*'` for every call. */
export type MethodSelector = TestMethod | readonly TestMethod[] | '*';

/**
 * Controls one `test:///` connection at a time. Faults are consulted in the
 * order they were added, after the call has its domain's job lock (so a
 * delayed call holds up later calls on the same domain, as a slow job does
 * in libvirt) and before it changes anything: a failed call leaves no trace.
 */
export class TestControl {
  readonly #faults: FaultEntry[] = [];
  #host: ControlledHost | undefined;

  /**
   * Makes the next matching call(s) fail with `error`.
   * @returns a handle to cancel the fault early
   */
  fail(methods: MethodSelector, error: FaultError, match: FaultMatch = {}): Fault {
    return this.#add(methods, { kind: 'fail', error }, match);
  }

  /** Makes matching calls wait `ms` milliseconds first (an abort cuts the wait short). */
  delay(methods: MethodSelector, ms: number, match: FaultMatch = { times: Number.POSITIVE_INFINITY }): Fault {
    if (!Number.isFinite(ms) || ms < 0) throw new VirError('INVALID_ARG', 'test', `invalid delay ${ms} ms`);
    return this.#add(methods, { kind: 'delay', ms }, match);
  }

  /** Removes every fault. */
  clear(): void {
    this.#faults.length = 0;
  }

  /** Faults still active, in the order they were added. */
  get pending(): number {
    return this.#faults.length;
  }

  /** The guest `name` (or UUID) crashes now; lifecycle events follow its `<on_crash>`. */
  crashGuest(domain: string): void {
    this.#attached().crashGuest(domain);
  }

  /** The guest powers itself off now (from inside, like `poweroff` in the guest). */
  guestShutdown(domain: string): void {
    this.#attached().guestShutdown(domain);
  }

  /** The guest reboots itself now. */
  guestReboot(domain: string): void {
    this.#attached().guestReboot(domain);
  }

  /** @internal called by the test driver when a connection opens with this control */
  _attach(host: ControlledHost): void {
    if (this.#host && this.#host !== host) {
      throw new VirError('OPERATION_INVALID', 'test', 'this TestControl already controls an open connection');
    }
    this.#host = host;
  }

  /** @internal called when that connection closes */
  _detach(host: ControlledHost): void {
    if (this.#host === host) this.#host = undefined;
  }

  /**
   * @internal the driver's hook: waits for delays and throws injected
   * failures that apply to `call`, consuming them.
   */
  async _apply(call: TestCall, signal: AbortSignal | undefined): Promise<void> {
    for (const f of [...this.#faults]) {
      if (f.remaining <= 0) continue;
      if (f.methods && !f.methods.has(call.method)) continue;
      if (f.when && !f.when(call)) continue;
      f.remaining--;
      if (f.remaining <= 0) this.#remove(f);
      if (f.action.kind === 'delay') await sleep(f.action.ms, signal);
      else throw toError(f.action.error, call);
    }
  }

  #add(methods: MethodSelector, action: FaultEntry['action'], match: FaultMatch): Fault {
    const times = match.times ?? 1;
    if (!(times > 0)) throw new VirError('INVALID_ARG', 'test', `fault times must be positive, got ${times}`);
    const entry: FaultEntry = {
      methods: methods === '*' ? undefined : new Set(typeof methods === 'string' ? [methods] : methods),
      when: match.when,
      remaining: times,
      action,
    };
    this.#faults.push(entry);
    return {
      get remaining() {
        return entry.remaining;
      },
      remove: () => this.#remove(entry),
    };
  }

  #remove(entry: FaultEntry): void {
    const i = this.#faults.indexOf(entry);
    if (i >= 0) this.#faults.splice(i, 1);
    entry.remaining = 0;
  }

  #attached(): ControlledHost {
    if (!this.#host) {
      throw new VirError(
        'OPERATION_INVALID',
        'test',
        'this TestControl is not attached to an open test connection',
      );
    }
    return this.#host;
  }
}

function toError(error: FaultError, call: TestCall): VirError {
  if (error instanceof VirError) return error;
  const what = call.domain ? `${call.method} (${call.domain.name})` : call.method;
  return new VirError(error.code, 'test', error.message ?? `injected failure of ${what}`);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal | undefined): VirError {
  const r: unknown = signal?.reason;
  if (r instanceof VirError) return r;
  return new VirError('OPERATION_ABORTED', 'test', 'operation aborted', { cause: r });
}
