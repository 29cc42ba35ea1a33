/**
 * libvirt's numbers for a domain state and its reason, as the `state`
 * stats group reports them (`state.state`, `state.reason`), from the names
 * drivers keep.
 *
 * @module
 */
import type { DomainState } from '../driver.js';
import { DOMAIN_STATES, reasonName } from './remote/domain-names.js';

/** `virDomainState` and `virDomain<State>Reason` numbers of a state; an unknown reason is 0. */
export function stateCodes(s: DomainState): { 'state.state': number; 'state.reason': number } {
  let reason = 0;
  for (let i = 0; i < 32; i++) {
    if (reasonName(s.state, i) === s.reason) {
      reason = i;
      break;
    }
  }
  return { 'state.state': Math.max(0, DOMAIN_STATES.indexOf(s.state)), 'state.reason': reason };
}
