// Brings up the regtest stack for the integration run, or reuses the one already running; stops
// it afterwards only if this run started it. A stack that cannot start fails the run.
import type { TestProject } from 'vitest/node';
import { down, isUp, stackOptions, up, type Stack } from '../../regtest/stack.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: Stack;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const options = stackOptions();
  const wasUp = await isUp(options.dataDir);
  let stack: Stack;
  try {
    stack = await up(options);
  } catch (err) {
    // Leave nothing running behind a failed start.
    if (!wasUp) await down(options.dataDir);
    throw err;
  }
  project.provide('stack', stack);
  // Test processes (forked after this) trust the stack's CA, as its tipds do: tests that pay the
  // creators' Lightning Addresses from their own process speak https to them.
  process.env.NODE_EXTRA_CA_CERTS = stack.tipd.caCert;
  return async () => {
    if (!wasUp) await down(options.dataDir);
  };
}
