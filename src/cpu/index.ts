/**
 * `virtkit/cpu`: the CPU model database and feature-policy engine.
 *
 * @module
 */
export {};
