/**
 * Fleet CPU planning: which hosts can start or receive each guest, and why.
 *
 * @module
 */
export { describeBlockers, planFleet } from './plan.js';
export type {
  FleetBlocker,
  FleetBlockerKind,
  FleetCell,
  FleetDomain,
  FleetGroupPlan,
  FleetGuestInput,
  FleetGuestPlan,
  FleetHostInput,
  FleetHostSummary,
  FleetInput,
  FleetOptions,
  FleetPlan,
  FleetVerdict,
  FleetWhatIf,
} from './types.js';
