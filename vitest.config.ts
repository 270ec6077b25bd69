import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests start nix processes; two cores run two files well.
    maxWorkers: 2,
    // Tests never meet the user's own daemon or evaluation cache.
    env: {
      EVIX_SOCKET: join(tmpdir(), `evix-test-${process.pid}`, 'no-daemon.sock'),
      XDG_CACHE_HOME: join(tmpdir(), `evix-test-${process.pid}`, 'cache'),
    },
  },
});
