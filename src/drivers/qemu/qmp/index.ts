/**
 * The QMP client and its errors.
 *
 * @module
 */
export {
  QmpClient,
  type QmpCommandOptions,
  type QmpConnectOptions,
  type QmpEvent,
  type QmpGreeting,
  type QmpOpenOptions,
} from './qmp-client.js';
export { isQmpError, QmpError, type QmpErrorReason } from './qmp-error.js';
