/**
 * Testing how an application copes with a misbehaving hypervisor, without
 * one: the `test:///default` driver plus a {@link TestControl}.
 *
 * `VmService` below stands for the code under test. It starts a VM, retries
 * once when libvirt says the operation failed, gives up after a deadline, and
 * watches lifecycle events to notice a guest that crashes. The harness makes
 * each of those things happen on purpose:
 *
 * - `control.fail(method, error, { times, when })`: the next matching call(s)
 *   fail with that `VirError` (code and message of your choice) and change
 *   nothing;
 * - `control.delay(method, ms, { times, when })`: matching calls wait first
 *   (holding the domain's job lock, like a slow libvirt job); an aborted
 *   `signal` cuts the wait short;
 * - `control.crashGuest(name)`, `control.guestShutdown(name)`,
 *   `control.guestReboot(name)`: the guest does it on its own, with the
 *   states and lifecycle events its `<on_crash>`, `<on_poweroff>` and
 *   `<on_reboot>` lead to.
 *
 * Run it with `npx tsx examples/harness-fault-injection.ts`.
 */
import assert from 'node:assert/strict';
import { type Connection, connect, type DomainEvent, TestControl, VirError } from '../src/index.js';

/** The application code under test. */
class VmService {
  readonly crashed: string[] = [];
  readonly #conn: Connection;
  readonly #watch = new AbortController();
  readonly #watching: Promise<void>;

  constructor(conn: Connection) {
    this.#conn = conn;
    // Lifecycle events arrive in the order things happened; a slow reader never holds the driver up.
    const events = conn.events({ signal: this.#watch.signal, filter: (e) => e.event === 'crashed' });
    this.#watching = (async () => {
      for await (const e of events) this.#onCrash(e);
    })();
  }

  /** Starts a VM, retrying once on OPERATION_FAILED, within `timeoutMs`. */
  async start(name: string, timeoutMs = 1000): Promise<'started' | 'failed' | 'timed out'> {
    const dom = await this.#conn.lookupDomain(name);
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        await dom.start({ signal: AbortSignal.timeout(timeoutMs) });
        return 'started';
      } catch (err) {
        if (!(err instanceof VirError)) throw err;
        if (err.code === 'OPERATION_ABORTED') return 'timed out';
        if (err.code !== 'OPERATION_FAILED' || attempt === 2) return 'failed';
      }
    }
    return 'failed';
  }

  async stop(): Promise<void> {
    this.#watch.abort();
    await this.#watching;
  }

  #onCrash(e: DomainEvent): void {
    this.crashed.push(`${e.domain.name} (${e.detail})`);
  }
}

const GUEST = `<domain type='test'>
  <name>web</name>
  <memory unit='MiB'>512</memory>
  <vcpu>2</vcpu>
  <os><type>hvm</type></os>
  <on_crash>destroy</on_crash>
</domain>`;

async function main(): Promise<void> {
  const control = new TestControl();
  const conn = await connect('test:///default', { driverOptions: { control } });
  const web = await conn.defineDomain(GUEST);
  const app = new VmService(conn);

  // 1. One transient failure: the app retries and succeeds.
  control.fail('domainStart', { code: 'OPERATION_FAILED', message: 'disk image is locked' });
  assert.equal(await app.start('web'), 'started');
  await web.destroy();

  // 2. A persistent failure, only for this domain: the app gives up after its retry.
  const locked = control.fail(
    'domainStart',
    { code: 'OPERATION_FAILED', message: 'disk image is locked' },
    { times: Number.POSITIVE_INFINITY, when: (call) => call.domain?.name === 'web' },
  );
  assert.equal(await app.start('web'), 'failed');
  assert.deepEqual(await web.getState(), { state: 'shutoff', reason: 'destroyed' }); // failures leave no trace
  locked.remove();

  // 3. A hung hypervisor: the app's deadline aborts the call and nothing is half done.
  control.delay('domainStart', 60_000, { times: 1 });
  assert.equal(await app.start('web', 50), 'timed out');
  assert.equal((await web.getState()).state, 'shutoff');

  // 4. The guest crashes on its own: the app hears about it from the event stream.
  assert.equal(await app.start('web'), 'started');
  control.crashGuest('web');
  assert.deepEqual(await web.getState(), { state: 'shutoff', reason: 'crashed' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(app.crashed, ['web (panicked)']);

  await app.stop();
  await conn.close();
  console.log('all four failure scenarios handled as expected');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
