/**
 * `-rtc` and the clock-related globals: the guest's RTC base (UTC, local
 * time, a time zone through `TZ`, or an offset from now), how it tracks
 * time and catches up, and the PIT's lost-tick policy.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { ArgvBuilder } from './argv-builder.js';
import { checkValue } from './escape.js';
import type { CommandLinePaths } from './types.js';

const RTC_CLOCK: Record<string, string | undefined> = { guest: 'vm', wall: 'host', realtime: 'rt' };

function unsupported(field: string, message: string): never {
  throw new VirError('CONFIG_UNSUPPORTED', 'qemu', message, { field });
}

/** `2009-02-14T00:01:30`: a UTC time as QEMU's `base=` takes it. */
function rtcTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 19);
}

function rtcBase(def: DomainDef, paths: CommandLinePaths): string {
  const clock = def.clock;
  switch (clock?.offset ?? 'utc') {
    case 'utc':
      return 'utc';
    case 'localtime':
    case 'timezone':
      return 'localtime';
    case 'variable': {
      const field = '/domain/clock/@adjustment';
      const raw = clock?.adjustment ?? '0';
      if (!/^[+-]?\d+$/.test(raw))
        unsupported(field, `clock adjustment '${checkValue(raw, field)}' is not a number`);
      let adjustment = Number(raw);
      // A local-time basis becomes an offset from UTC fixed at start, as libvirt does.
      if (clock?.basis === 'localtime')
        adjustment += paths.clock?.localOffset ?? -new Date().getTimezoneOffset() * 60;
      const now = paths.clock?.now ?? Math.floor(Date.now() / 1000);
      return rtcTime(now + adjustment);
    }
    case 'absolute':
      return rtcTime(clock?.start ?? 0);
  }
  return 'utc';
}

export function buildClock(
  b: ArgvBuilder,
  def: DomainDef,
  paths: CommandLinePaths,
  env: Record<string, string>,
): void {
  const clock = def.clock;
  const rtcOpts = [`base=${rtcBase(def, paths)}`];
  const timers = clock?.timers ?? [];
  const rtc = timers.find((t) => t.name === 'rtc');
  if (rtc) {
    const field = "/domain/clock/timer[@name='rtc']";
    if (rtc.track === 'boot')
      unsupported(`${field}/@track`, "rtc timer track 'boot' is not supported by QEMU");
    const track = rtc.track !== undefined ? RTC_CLOCK[rtc.track] : undefined;
    if (track) rtcOpts.push(`clock=${track}`);
    if (rtc.tickpolicy === 'catchup') rtcOpts.push('driftfix=slew');
    else if (rtc.tickpolicy === 'merge' || rtc.tickpolicy === 'discard')
      unsupported(
        `${field}/@tickpolicy`,
        `rtc timer tickpolicy '${rtc.tickpolicy}' is not supported by QEMU`,
      );
  }
  b.add('-rtc', rtcOpts.join(','));
  if (clock?.offset === 'timezone' && clock.timezone !== undefined)
    env.TZ = checkValue(clock.timezone, '/domain/clock/@timezone');
  const pit = timers.find((t) => t.name === 'pit');
  if (pit) {
    // Without a policy QEMU's in-kernel PIT would catch up; libvirt asks for delay explicitly.
    if (pit.tickpolicy === undefined || pit.tickpolicy === 'delay')
      b.add('-global', 'kvm-pit.lost_tick_policy=delay');
    else if (pit.tickpolicy === 'discard') b.add('-global', 'kvm-pit.lost_tick_policy=discard');
    else if (pit.tickpolicy === 'merge')
      unsupported(
        "/domain/clock/timer[@name='pit']/@tickpolicy",
        "pit timer tickpolicy 'merge' is not supported by QEMU",
      );
  }
}
