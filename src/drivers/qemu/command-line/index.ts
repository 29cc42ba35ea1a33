/**
 * QEMU command-line generation: {@link buildCommandLine}.
 *
 * @module
 */
export { ArgvBuilder, buildCommandLine, supportsJsonCli } from './build.js';
export { checkValue, jsonArg, optList, optValue } from './escape.js';
export { virtiofsSocketPath } from './filesystems.js';
export type {
  CommandLine,
  CommandLinePaths,
  IscsiDirectVolume,
  LocalVolume,
  ResolvedVolume,
  VolumeRequest,
} from './types.js';
