/**
 * What `connect(remoteUri, { driverOptions })` accepts.
 *
 * @module
 */

/**
 * The `driverOptions` of a remote URI (one with a transport or a host): keepalive and the
 * transport's settings.
 */
export type RemoteDriverOptions = {
  /** Seconds between keepalive probes; 0 disables them. Default 5. */
  keepaliveInterval?: number;
  /** Unanswered probes after which the connection is closed. Default 5. */
  keepaliveCount?: number;
  /**
   * Milliseconds one call waits for its complete reply before it fails with `OPERATION_TIMEOUT`
   * (the connection stays usable); 0 disables. Default 120000. A call's own `timeout` can only
   * shorten it.
   */
  callTimeout?: number;
};
