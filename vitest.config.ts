import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['tests/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          // Starts the regtest stack once (or reuses a running one); fails the run if it cannot.
          globalSetup: ['tests/integration/global-setup.ts'],
          // One file at a time: some pause a node of the shared stack (SIGSTOP) or switch the X server's mode.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
