/**
 * What `connect(remoteUri, { driverOptions })` accepts.
 *
 * @module
 */

export type RemoteDriverOptions = {
  /** Seconds between keepalive probes; 0 disables them. Default 5. */
  keepaliveInterval?: number;
  /** Unanswered probes after which the connection is closed. Default 5. */
  keepaliveCount?: number;
};
