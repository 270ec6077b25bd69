/**
 * Marks a promise started early and awaited later as handled now. Its
 * rejection is not lost: whoever awaits it later gets it. Without this, a
 * rejection that arrives before anyone awaits (a flake that fails to lock
 * while evix is still loading) would end the process as unhandled.
 */
export function awaitedLater<T>(promise: Promise<T>): Promise<T> {
  promise.then(undefined, ignoreUntilAwaited);
  return promise;
}

function ignoreUntilAwaited(): void {}
