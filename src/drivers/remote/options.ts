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
};
