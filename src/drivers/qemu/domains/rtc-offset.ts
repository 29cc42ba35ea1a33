/**
 * libvirt's view of a guest's RTC for `<clock offset='variable'>`: the
 * live definition says the offset from UTC (`adjustment`, seconds) with a
 * UTC basis (a local-time one is converted at start, the host's offset
 * then added in), and each RTC_CHANGE moves it. QEMU's RTC_CHANGE offset
 * counts from the base time given at start, all changes summed, so the
 * new adjustment is that offset plus the adjustment the guest started
 * with — which is also what the `rtc-change` event reports. Other clock
 * offsets report QEMU's number as it is.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';

/** At start: a variable clock on a local-time basis becomes its offset from UTC, as libvirt's live XML shows it. */
export function clockToUtcBasis(live: DomainDef, localOffset = -new Date().getTimezoneOffset() * 60): void {
  const clock = live.clock;
  if (clock?.offset !== 'variable' || clock.basis !== 'localtime') return;
  const adjustment = /^[+-]?\d+$/.test(clock.adjustment ?? '0') ? Number(clock.adjustment ?? '0') : undefined;
  // a malformed adjustment is left for the command line to refuse, naming it
  if (adjustment === undefined) return;
  clock.adjustment = String(adjustment + localOffset);
  clock.basis = 'utc';
}

/**
 * The `rtc-change` offset libvirt reports for QEMU's `offset`; a variable clock's live
 * `adjustment` follows it. `state.adjustment0` keeps the adjustment the guest started with.
 * Returns whether the live definition changed.
 */
export function applyRtcChange(
  live: DomainDef | undefined,
  state: { rtcAdjustment0?: number | undefined },
  offset: number,
): { utcoffset: number; changed: boolean } {
  const clock = live?.clock;
  if (clock?.offset !== 'variable') return { utcoffset: offset, changed: false };
  state.rtcAdjustment0 ??= Number(clock.adjustment ?? '0') || 0;
  const utcoffset = offset + state.rtcAdjustment0;
  clock.adjustment = String(utcoffset);
  return { utcoffset, changed: true };
}
