// Background work that runs now and then again `intervalMs` after each run ends (never two runs
// at once); a failed run is logged and the next one comes as usual. A broken money invariant is
// not a failure to try again: it goes on, unhandled, to stop tipd (main.ts).
import { InvariantViolation } from '../ledger/invariants.ts';
import type { Logger } from './log.ts';

export function repeat(what: string, intervalMs: number, work: () => Promise<unknown>, log: Logger, firstAfterMs = 0): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = () => {
    void work()
      .catch((err: unknown) => {
        if (err instanceof InvariantViolation) throw err;
        if (!stopped) log.warn({ err }, `${what} failed`);
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  timer = setTimeout(tick, firstAfterMs);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
