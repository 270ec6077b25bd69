/**
 * Authentication by a shared token, never sent: the worker greets each
 * connection with a fresh random nonce; the master answers with its own
 * nonce and an HMAC-SHA256 over both nonces and the exact setup bytes; the
 * worker checks it in constant time and proves itself the same way over the
 * nonces in the other order. A recorded handshake is worthless on another
 * connection, whose worker nonce differs; and the setup (what is to be
 * evaluated) cannot be changed without breaking the MAC. Work messages after
 * the handshake ride on the authenticated connection; use TLS when the path
 * between the machines is not trusted.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const NONCE_BYTES = 32;

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

export function clientMac(token: Uint8Array, serverNonce: Uint8Array, clientNonce: Uint8Array, setup: Uint8Array): Buffer {
  return createHmac('sha256', token).update('evix-client-v1\0').update(serverNonce).update(clientNonce).update(setup).digest();
}

export function serverProof(token: Uint8Array, serverNonce: Uint8Array, clientNonce: Uint8Array): Buffer {
  return createHmac('sha256', token).update('evix-server-v1\0').update(clientNonce).update(serverNonce).digest();
}

/** Constant-time comparison; false for different lengths. */
export function macEqual(expected: Uint8Array, given: Uint8Array): boolean {
  return expected.length === given.length && timingSafeEqual(expected, given);
}
