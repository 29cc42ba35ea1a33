/**
 * libvirt's bookkeeping of a variable clock (its documented `<clock>`
 * semantics and qemuProcessHandleRTCChange): a local-time basis is fixed as
 * an offset from UTC at start, and QEMU's RTC_CHANGE offsets (counted from
 * the start's base, cumulative) become offsets from UTC by adding the
 * adjustment the guest started with. The end-to-end check with a guest's
 * own `hwclock -w` is in guest-events-linux.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { applyRtcChange, clockToUtcBasis } from '../../../src/drivers/qemu/domains/rtc-offset.js';

const def = (clock: string) =>
  DomainDef.fromXML(
    `<domain type='qemu'><name>c</name><memory>65536</memory><os><type>hvm</type></os>${clock}</domain>`,
  );

describe('a variable clock across RTC changes', () => {
  it('a local-time basis becomes UTC with the host offset added; other clocks are left alone', () => {
    const local = def("<clock offset='variable' adjustment='100' basis='localtime'/>");
    clockToUtcBasis(local, 7200);
    expect(local.clock).toMatchObject({ offset: 'variable', adjustment: '7300', basis: 'utc' });
    const utc = def("<clock offset='utc'/>");
    clockToUtcBasis(utc, 7200);
    expect(utc.clock).toMatchObject({ offset: 'utc' });
  });

  it("each change is QEMU's cumulative offset plus the start's adjustment; the live adjustment follows", () => {
    const live = def("<clock offset='variable' adjustment='3600' basis='utc'/>");
    const state: { rtcAdjustment0?: number } = {};
    // libvirt's example: started 3600 s ahead, advanced by 10 s, then by another 10 s
    expect(applyRtcChange(live, state, 10)).toEqual({ utcoffset: 3610, changed: true });
    expect(live.clock?.adjustment).toBe('3610');
    expect(applyRtcChange(live, state, 20)).toEqual({ utcoffset: 3620, changed: true });
    expect(live.toXML()).toContain("<clock offset='variable' adjustment='3620' basis='utc'/>");
  });

  it("a UTC or local-time clock reports QEMU's offset as it is", () => {
    const live = def("<clock offset='utc'/>");
    expect(applyRtcChange(live, {}, 42)).toEqual({ utcoffset: 42, changed: false });
    expect(live.toXML()).toContain("<clock offset='utc'/>");
  });
});
