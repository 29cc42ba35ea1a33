/**
 * Node device events for the QEMU driver. libvirt's udev backend hears the
 * kernel's uevents through a udev monitor; Node has no netlink socket, so
 * this reads the device list again every {@link WATCH_INTERVAL_MS} while at
 * least one listener is registered (never otherwise, and on a timer that
 * does not keep the process alive) and compares it with the last one:
 * a new name is `created`, a vanished one `deleted`, a device whose bound
 * driver changed `updated`. Other changes of a device's XML (a link going
 * up, an mdev type's free instances) are no events, as libvirt sends none
 * for them either. A device that appears and goes within one interval is
 * not seen.
 *
 * Calls made after a listener registered wait for the first read, so a
 * change a program makes after subscribing is always reported.
 *
 * @module
 */
import type { NodeDeviceEvent } from '../../../driver-objects.js';

/** How often the device list is read while someone listens. */
export const WATCH_INTERVAL_MS = 2000;

/** What the watch compares between two reads. */
interface Seen {
  readonly name: string;
  readonly driver: string | undefined;
}

export class DeviceWatch {
  readonly #scan: () => Promise<readonly Seen[]>;
  readonly #interval: number;
  readonly #listeners = new Set<(e: NodeDeviceEvent) => void>();
  #last: Map<string, Seen> | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #running: Promise<void> | null = null;
  #ready: Promise<void> | null = null;

  constructor(scan: () => Promise<readonly Seen[]>, intervalMs = WATCH_INTERVAL_MS) {
    this.#scan = scan;
    this.#interval = intervalMs;
  }

  /** Resolves once the first read after a subscription is done; at once when no one listens. */
  ready(): Promise<void> {
    return this.#ready ?? Promise.resolve();
  }

  subscribe(listener: (e: NodeDeviceEvent) => void): () => void {
    this.#listeners.add(listener);
    if (!this.#timer) {
      this.#ready = this.refresh();
      this.#timer = setInterval(() => void this.refresh(), this.#interval);
      this.#timer.unref?.();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  #stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#last = null;
    this.#ready = null;
  }

  /** Reads the devices now and reports what changed since the last read (one read at a time). */
  refresh(): Promise<void> {
    if (this.#listeners.size === 0) return Promise.resolve();
    // a read under way may have started before the caller's change: queue one more after it
    const next: Promise<void> = (this.#running ?? Promise.resolve()).then(() => this.#diff());
    const settled = next.finally(() => {
      if (this.#running === settled) this.#running = null;
    });
    this.#running = settled;
    return settled;
  }

  async #diff(): Promise<void> {
    if (this.#listeners.size === 0) return;
    let now: Map<string, Seen>;
    try {
      now = new Map((await this.#scan()).map((d) => [d.name, d]));
    } catch {
      return; // sysfs unreadable this time: compare with the next read
    }
    // everyone left while reading: the next subscription starts afresh
    if (this.#listeners.size === 0) return;
    const before = this.#last;
    this.#last = now;
    if (!before) return;
    const timestamp = Date.now();
    const events: NodeDeviceEvent[] = [];
    for (const name of [...before.keys()].sort())
      if (!now.has(name)) events.push({ type: 'nodeDevice', device: { name }, event: 'deleted', timestamp });
    for (const [name, d] of [...now].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const old = before.get(name);
      if (!old) events.push({ type: 'nodeDevice', device: { name }, event: 'created', timestamp });
      else if (old.driver !== d.driver)
        events.push({ type: 'nodeDevice', device: { name }, event: 'updated', timestamp });
    }
    for (const e of events) for (const l of [...this.#listeners]) l(e);
  }
}
