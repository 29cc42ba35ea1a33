/**
 * The `remote` driver: libvirt's RPC protocol in TypeScript, to a libvirt
 * daemon over a unix socket, TCP, TLS, ssh or any command's stdio. Serves
 * every URI with a transport or a host (`qemu+ssh://user@host/system`,
 * `test+unix:///default?socket=...`) and `remote:///`.
 *
 * Driver options (`connect(uri, { driverOptions })`): `keepaliveInterval`
 * (seconds, 0 disables; default 5), `keepaliveCount` (default 5) and
 * `callTimeout` (milliseconds one call waits for its reply, 0 disables;
 * default 120000).
 *
 * @module
 */
import type { DriverFactory } from '../../driver.js';
import { VirError } from '../../errors.js';
import { isRemoteUri } from '../../uri.js';
import { checkTimeout } from './call-limits.js';
import { RemoteConnection, type RemoteOptions } from './remote-connection.js';

export const remoteDriver: DriverFactory = {
  name: 'remote',
  accepts: (uri) => isRemoteUri(uri) || uri.driver === 'remote',
  open({ uri, readonly, driverOptions, signal }) {
    return RemoteConnection.open(uri, { readonly, signal, ...remoteOptions(driverOptions) });
  },
};

function remoteOptions(options: Readonly<Record<string, unknown>>): RemoteOptions {
  const out: RemoteOptions = {};
  const callTimeout = checkTimeout(options.callTimeout, 'driver option callTimeout');
  if (callTimeout !== undefined) out.callTimeout = callTimeout;
  for (const key of ['keepaliveInterval', 'keepaliveCount'] as const) {
    const v = options[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new VirError('INVALID_ARG', 'remote', `driver option ${key} must be a non-negative number`);
    }
    out[key] = v;
  }
  return out;
}

export { RemoteConnection, type RemoteOptions } from './remote-connection.js';
export { RpcClient } from './rpc-client.js';
