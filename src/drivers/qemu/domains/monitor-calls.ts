/**
 * The QEMU driver's calls that go straight to a running guest's monitor:
 * libvirt-qemu's passthrough and screenshots (libvirt's checks first: a
 * guest without a video has no screen, a screen past the heads is none).
 *
 * @module
 */
import type { CallOptions, DomainRef, Screenshot, ScreenshotOptions } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import type { QemuMonitorReply, QemuMonitorRequest } from '../../../qemu-monitor.js';
import { encodePng, parsePpm } from '../../png-image.js';
import type { QemuDomainRunner } from '../lifecycle/index.js';
import { isActive } from './domain-entry.js';
import type { DomainListAccess } from './migration.js';

/** Options of a passthrough: `timeout` in milliseconds. */
export type MonitorOpts = CallOptions & { timeout?: number };

/** Sends `req` through the guest's monitor (see `RunnerMonitor.command`). */
export async function monitorCommand(
  side: DomainListAccess,
  dom: DomainRef,
  req: QemuMonitorRequest,
  opts: MonitorOpts = {},
): Promise<QemuMonitorReply | string> {
  const { runner } = await running(side, dom, opts, 'send a monitor command to');
  return runner.monitor.command(req, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}),
  });
}

/** A PNG of display `screen`: QEMU's own PNG where it writes one, else its PPM converted here. */
export async function screenshot(
  side: DomainListAccess,
  dom: DomainRef,
  opts: ScreenshotOptions = {},
): Promise<Screenshot> {
  const { runner, videos } = await running(side, dom, opts, 'take a screenshot of');
  if (videos.length === 0)
    throw new VirError(
      'OPERATION_FAILED',
      'qemu',
      `domain '${dom.name}' has no screens to take a screenshot from`,
    );
  let target: { device?: string; head?: number } = {};
  let screen = opts.screen ?? 0;
  if (screen > 0) {
    // As libvirt: screens are counted across the videos, each with its heads.
    const v = videos.find((video) => {
      if (screen < video.heads) return true;
      screen -= video.heads;
      return false;
    });
    if (!v)
      throw new VirError('INVALID_ARG', 'qemu', `domain '${dom.name}' has no screen ${opts.screen}`, {
        field: 'screen',
      });
    target = { device: v.id, head: screen };
  }
  const dump = await runner.monitor.screendump(target, opts.signal ? { signal: opts.signal } : {});
  const data = dump.format === 'png' ? dump.data : encodePng(parsePpm(dump.data));
  return { mime: 'image/png', data };
}

async function running(
  side: DomainListAccess,
  dom: DomainRef,
  opts: CallOptions,
  what: string,
): Promise<{ runner: QemuDomainRunner; videos: { id: string; heads: number }[] }> {
  const e = await side.owned(dom, opts, what);
  if (!e.runner || !isActive(e)) throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
  // The ids buildCommandLine gives the video devices; a 'none' video is no device.
  const videos = (e.live?.devices?.videos ?? []).flatMap((v, i) =>
    v.model && v.model.type !== 'none' ? [{ id: `video${i}`, heads: Math.max(1, v.model.heads ?? 1) }] : [],
  );
  return { runner: e.runner, videos };
}
