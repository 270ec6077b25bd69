/**
 * What a caller of evaluate() sets for its remote workers: TLS material and
 * timeouts. Its own module, free of Node's types (bytes are Uint8Array, not
 * Buffer), because the library's declarations name these types: a consumer
 * then type-checks evix without @types/node, and without the declarations
 * of the connection code behind them.
 */

export interface RemoteTls {
  /** Trust anchors for the worker's certificate (PEM). */
  ca?: Uint8Array;
  /** Our certificate and key (PEM), for workers that require mutual TLS. */
  cert?: Uint8Array;
  key?: Uint8Array;
}

export interface RemoteTimeouts {
  /** Connecting and the whole handshake, setup of the evaluator included. */
  setupMs: number;
  /** With work outstanding and nothing heard for this long, send a ping. */
  pingAfterMs: number;
  /** With work outstanding and nothing heard for this long, the peer is gone. */
  deadAfterMs: number;
  /**
   * Failed connections in a row (attempts and losses with no answer between)
   * before giving up; attempts wait doubling delays from 250 ms up to 5 s.
   */
  reconnectAttempts: number;
}

export const DEFAULT_REMOTE_TIMEOUTS: RemoteTimeouts = { setupMs: 120_000, pingAfterMs: 3_000, deadAfterMs: 10_000, reconnectAttempts: 8 };
