// Winding tipd down, for an operator who must shut it: said once (POST /v1/admin/wind-down) and for
// good. From then on money no longer comes in and handles are no longer claimed: the routes that
// would (deposits, tips, flattrs, claims, LNURL payments to handles and accounts) refuse with
// `winding_down` (api/openapi.ts: `refusedWhileWindingDown`), invoices already given out are
// cancelled (deposits/), and no flattr period closes. Every
// unclaimed escrow lot goes back to its supporter at once (the 180-day return, due now:
// escrow/refunds.ts), payers' lots to the Lightning Address they gave; every client is told by an
// event; withdrawals and claimed handles' payouts go on as usual. `owed()` says what is still owed,
// and to whom, until it is zero.
import { Refusal } from '../errors.ts';
import { topics, type EventData } from '../events/types.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { keys } from '../ledger/keys.ts';
import { formatMsat } from '../ledger/money.ts';
import { parseStoredIfAny } from '../ledger/records.ts';
import type { HandleRecord } from '../escrow/escrow.ts';
import type { Logger } from '../process/log.ts';
import { z } from 'zod';

export const windDownSchema = z.object({ startedAt: z.iso.datetime(), reason: z.string() });
export type WindDownState = z.infer<typeof windDownSchema>;

/** How many of each kind of creditor `owed()` lists by name (the largest); its sums count them all. */
const listedMax = 100;

export interface Owed {
  /** Supporters' balances: theirs to withdraw. */
  supporters: { count: number; totalMsat: string; largest: { supporterId: string; balanceMsat: string }[] };
  /**
   * Escrow: a claimed handle's is on its way to its creator (payouts); an unclaimed one's is what
   * payers by LNURL left without an address (or whose return is under way), owed to its creator.
   */
  escrow: { count: number; totalMsat: string; largest: { handle: string; claimed: boolean; amountMsat: string }[] };
  /** Held for payments in flight (withdrawals, payouts): settled one way or the other soon. */
  inFlightMsat: string;
  totalMsat: string;
}

export class WindDown {
  readonly #ledger: Ledger;
  readonly #log: Logger;
  #state: WindDownState | undefined;
  readonly #started = new Set<() => void>();

  private constructor(ledger: Ledger, log: Logger, state: WindDownState | undefined) {
    this.#ledger = ledger;
    this.#log = log;
    this.#state = state;
  }

  static async open(ledger: Ledger, log: Logger): Promise<WindDown> {
    const state = parseStoredIfAny(windDownSchema, keys.windDown, await ledger.read(keys.windDown));
    if (state) log.warn({ startedAt: state.startedAt, reason: state.reason }, 'tipd is winding down: no new money, no new claims');
    return new WindDown(ledger, log, state);
  }

  /** Since when, and why, if tipd is winding down. */
  get state(): WindDownState | undefined {
    return this.#state;
  }

  /** Refuses (`winding_down`) once the wind-down has begun. */
  assertOpen(): void {
    if (this.#state) throw new Refusal('winding_down');
  }

  /** `listener` runs when the wind-down begins (not at a start of tipd that finds it begun: read `state`). */
  onStart(listener: () => void): void {
    this.#started.add(listener);
  }

  /** Begins the wind-down, once: the state, and whether this call began it. */
  async start(reason: string): Promise<{ state: WindDownState; started: boolean }> {
    const outcome = await this.#ledger.run(
      async (tx) => {
        const before = parseStoredIfAny(windDownSchema, keys.windDown, await tx.get(keys.windDown));
        if (before) return { state: before, started: false };
        const state: WindDownState = { startedAt: tx.nowIso, reason };
        tx.put(keys.windDown, state);
        tx.emit('service.winding_down', [topics.service], state satisfies EventData['service.winding_down']);
        return { state, started: true };
      },
      { sync: true },
    );
    this.#state = outcome.state;
    if (outcome.started) {
      this.#log.warn({ reason }, 'wind-down begun: new money and claims are refused, unclaimed tips go back');
      for (const listener of this.#started) listener();
    }
    return outcome;
  }

  /**
   * What tipd still owes, and to whom (the largest by name), from the committed balances: each kind
   * counted, summed and ranked in one pass over one snapshot, in memory bounded by `listedMax`.
   */
  async owed(): Promise<Owed> {
    const [supporters, escrows, totals] = await Promise.all([
      this.#ledger.holding('supporter', listedMax),
      this.#ledger.holding('escrow', listedMax),
      this.#ledger.totalsByKind(),
    ]);
    const largestEscrows = await Promise.all(
      escrows.largest.map(async ({ id, balanceMsat }) => {
        const record = await this.#ledger.read<HandleRecord>(keys.handle(id));
        return { handle: record?.display ?? id, claimed: record?.claimed ?? false, amountMsat: formatMsat(balanceMsat) };
      }),
    );
    return {
      supporters: {
        count: supporters.count,
        totalMsat: formatMsat(supporters.totalMsat),
        largest: supporters.largest.map(({ id, balanceMsat }) => ({ supporterId: id, balanceMsat: formatMsat(balanceMsat) })),
      },
      escrow: { count: escrows.count, totalMsat: formatMsat(escrows.totalMsat), largest: largestEscrows },
      inFlightMsat: formatMsat(totals.pending),
      totalMsat: formatMsat(supporters.totalMsat + escrows.totalMsat + totals.pending),
    };
  }
}
