/**
 * `<clock>` with its timers, and the lifecycle actions
 * (`on_poweroff`, `on_reboot`, `on_crash`).
 *
 * @module
 */
import { attr, children, elementMapper, enumOf, type Infer, req, str, uint, yesNo } from '../binding.js';

/** The `offset` values of `<clock>`: how the guest's clock relates to the host's. */
export const CLOCK_OFFSETS = ['utc', 'localtime', 'timezone', 'variable', 'absolute'] as const;

const timerMapper = elementMapper('timer', {
  name: req(attr('name', str)),
  present: attr('present', yesNo),
  tickpolicy: attr('tickpolicy', enumOf(['delay', 'catchup', 'merge', 'discard'])),
  track: attr('track', enumOf(['boot', 'guest', 'wall', 'realtime'])),
  mode: attr('mode', str),
  frequency: attr('frequency', uint),
});
export type Timer = Infer<typeof timerMapper.spec>;

export const clockMapper = elementMapper('clock', {
  offset: req(attr('offset', enumOf(CLOCK_OFFSETS))),
  adjustment: attr('adjustment', str),
  basis: attr('basis', enumOf(['utc', 'localtime'])),
  timezone: attr('timezone', str),
  start: attr('start', uint),
  timers: children(timerMapper),
});
export type Clock = Infer<typeof clockMapper.spec>;

/** What `<on_poweroff>`, `<on_reboot>` and `<on_crash>` may say to do. */
export const LIFECYCLE_ACTIONS = [
  'destroy',
  'restart',
  'rename-restart',
  'preserve',
  'coredump-destroy',
  'coredump-restart',
] as const;
/** One of `LIFECYCLE_ACTIONS`. */
export type LifecycleAction = (typeof LIFECYCLE_ACTIONS)[number];
