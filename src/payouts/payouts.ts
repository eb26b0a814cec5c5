// Payouts: the escrow of a claimed handle paid to its bound node by keysend, exactly once. A payout
// is a two-phase transfer: amount and fee cap move from escrow to pending in the same batch that
// records the payout with its preimage, before LND is called. Success books the real fee and
// returns the unused cap to escrow; only LND's own final "failed" voids it (and a later payout is
// tried, with backoff); anything else (timeout, dropped connection, LND restarting) leaves it
// pending, to be looked up by payment hash, later in this run and at every start.
import { hash, randomBytes } from 'node:crypto';
import type { Binding } from '../claims/claims.ts';
import { crashPoint } from '../process/crash.ts';
import { accounts, type Ledger, type LedgerEvent, type Tx } from '../ledger/ledger.ts';
import { prefixEnd } from '../ledger/keys.ts';
import type { Lnd, PaymentState } from '../ln/lnd.ts';
import { reconcilePending } from '../payments/reconcile.ts';
import type { Logger } from '../process/log.ts';
import { feeCap, formatMsat } from '../ledger/money.ts';
import { repeat } from '../process/repeat.ts';

export type PayoutState = 'pending' | 'succeeded' | 'failed';

interface PayoutRecord {
  id: string;
  handleKey: string;
  nodePubkey: string;
  amountMsat: string;
  feeCapMsat: string;
  feeMsat: string | null;
  preimage: string;
  paymentHash: string;
  state: PayoutState;
  failureReason: string | null;
  createdAt: string;
  settledAt: string | null;
}

export type PayoutView = Omit<PayoutRecord, 'handleKey' | 'preimage'>;

/** Failed payouts of a handle in a row, and when the next may be tried. */
interface RetryState {
  failures: number;
  nextAt: string;
}

export interface PayoutOptions {
  /** Escrow below this waits for more tips. */
  minMsat: bigint;
  /** Routing-fee cap of a payout: base plus a proportion (ppm) of the amount, rounded up. */
  feeBaseMsat: bigint;
  feePpm: bigint;
  /** Wait after a first failed payout; doubles with each failure in a row, up to retryMaxMs. */
  retryMs: number;
  retryMaxMs: number;
  /** How often payouts without a final answer are looked up again. */
  recheckMs: number;
  /** Most keysends out at once. */
  sendingMax: number;
  now?: () => Date;
}

/**
 * The largest amount whose fee cap fits beside it in `escrowMsat`: the fee is paid out of the
 * escrow being sent, so amount + cap never exceeds what the escrow holds.
 */
export function payoutSplit(escrowMsat: bigint, feeBaseMsat: bigint, feePpm: bigint): { amountMsat: bigint; feeCapMsat: bigint } | undefined {
  const cap = (amountMsat: bigint) => feeCap(amountMsat, { baseMsat: feeBaseMsat, ppm: feePpm });
  let amountMsat = ((escrowMsat - feeBaseMsat) * 1_000_000n) / (1_000_000n + feePpm);
  // Rounding the cap up costs at most one msat: at most a step or two back.
  while (amountMsat > 0n && amountMsat + cap(amountMsat) > escrowMsat) amountMsat -= 1n;
  return amountMsat > 0n ? { amountMsat, feeCapMsat: cap(amountMsat) } : undefined;
}

const pendingAccount = (id: string) => accounts.pending(`payout:${id}`);

export class Payouts {
  readonly #ledger: Ledger;
  readonly #lnd: Lnd;
  readonly #log: Logger;
  readonly #options: PayoutOptions;
  readonly #now: () => Date;
  /** Handles being worked on, and whether another look was asked for meanwhile. */
  readonly #active = new Map<string, { again: boolean }>();
  /** Payouts this process is sending right now: reconcile leaves them alone. */
  readonly #sending = new Set<string>();
  readonly #retryTimers = new Map<string, NodeJS.Timeout>();
  readonly #slots: (() => void)[] = [];
  #inFlight = 0;
  #stopped = true;
  /** Counts calls of `start`: see there. */
  #starts = 0;
  #recheck: { stop(): void } | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(ledger: Ledger, lnd: Lnd, log: Logger, options: PayoutOptions) {
    this.#ledger = ledger;
    this.#lnd = lnd;
    this.#log = log;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  #view(record: PayoutRecord): PayoutView {
    const { handleKey: _h, preimage: _p, ...view } = record;
    return view;
  }

  /** A handle's payouts, newest first, `limit` at a time; `before` is the cursor of the last page. */
  async list(handleKey: string, limit: number, before?: string): Promise<{ payouts: PayoutView[]; next: string | undefined }> {
    const prefix = `hpayout:${handleKey}:`;
    const keys = await this.#ledger.db.keys({ gt: prefix, lt: before ? `${prefix}${before}` : prefixEnd(prefix), reverse: true, limit }).all();
    const records = (await this.#ledger.db.getMany(keys.map((key) => `payout:${key.slice(key.lastIndexOf(':') + 1)}`))) as PayoutRecord[];
    return { payouts: records.map((r) => this.#view(r)), next: keys.length === limit ? keys.at(-1)!.slice(prefix.length) : undefined };
  }

  /** Asks for a look at a handle's escrow: pays it out if it is bound and holds enough. */
  kick(handleKey: string): void {
    if (this.#stopped) return;
    const active = this.#active.get(handleKey);
    if (active) {
      active.again = true;
      return;
    }
    const entry = { again: true };
    this.#active.set(handleKey, entry);
    void (async () => {
      try {
        while (entry.again && !this.#stopped) {
          entry.again = false;
          await this.#payOnce(handleKey);
        }
      } catch (err) {
        if (this.#stopped) this.#log.info({ handle: handleKey }, 'payout interrupted by the shutdown; it is looked up by hash at the next start');
        else this.#log.error({ err, handle: handleKey }, 'payout failed to run; will try again');
        this.#retryAt(handleKey, new Date(this.#now().getTime() + this.#options.retryMs));
      } finally {
        this.#active.delete(handleKey);
      }
    })();
  }

  #retryAt(handleKey: string, at: Date): void {
    if (this.#stopped) return;
    clearTimeout(this.#retryTimers.get(handleKey));
    const timer = setTimeout(
      () => {
        this.#retryTimers.delete(handleKey);
        this.kick(handleKey);
      },
      Math.max(0, at.getTime() - this.#now().getTime()),
    );
    this.#retryTimers.set(handleKey, timer);
  }

  async #slot(): Promise<() => void> {
    if (this.#inFlight >= this.#options.sendingMax) await new Promise<void>((resolve) => this.#slots.push(resolve));
    this.#inFlight += 1;
    return () => {
      this.#inFlight -= 1;
      this.#slots.shift()?.();
    };
  }

  async #payOnce(handleKey: string): Promise<void> {
    // Cheap looks first (cached reads): most tips go to handles nobody claimed.
    if (!(await this.#ledger.read<Binding>(`binding:${handleKey}`))) return;
    if ((await this.#ledger.balance(accounts.escrow(handleKey))) < this.#options.minMsat) return;
    // The sending slot is taken before the hold: a held payout must go to LND at once, never wait
    // in a queue long enough for the recheck to take it as never sent.
    const release = await this.#slot();
    try {
      await this.#holdAndSend(handleKey);
    } finally {
      release();
    }
  }

  async #holdAndSend(handleKey: string): Promise<void> {
    // Woken from the wait for a slot by a stop: hold nothing.
    if (this.#stopped) return;
    const preimage = randomBytes(32);
    const id = randomBytes(12).toString('base64url');
    // This process's before its hold can be on disk: the recheck leaves it alone until sent.
    this.#sending.add(id);
    try {
      const held = await this.#ledger.run((tx) => this.#hold(tx, handleKey, id, preimage), { sync: true });
      if (!held) return;
      if ('waitUntil' in held) return this.#retryAt(handleKey, held.waitUntil);
      crashPoint('payout.held-not-sent');
      // Stopping: not sent; the next start finds LND never saw it and voids it after the grace time.
      if (this.#stopped) return;
      this.#log.info(
        { payout: id, handle: handleKey, nodePubkey: held.nodePubkey, amountMsat: held.amountMsat, feeCapMsat: held.feeCapMsat },
        'payout held; sending',
      );
      const outcome = await this.#lnd.keysend({
        destination: held.nodePubkey,
        amountMsat: BigInt(held.amountMsat),
        maxFeeMsat: BigInt(held.feeCapMsat),
        preimage,
      });
      crashPoint('payout.sent-not-booked');
      if (outcome.state !== 'succeeded' && outcome.state !== 'failed') {
        this.#log.warn(
          { payout: id, handle: handleKey, state: outcome.state, reason: 'reason' in outcome ? outcome.reason : undefined },
          'payout outcome unknown: it stays pending and is looked up by payment hash',
        );
      }
      await this.#settle(id, outcome);
    } finally {
      this.#sending.delete(id);
    }
  }

  /** Inside the writer: holds the escrow of a bound handle as payout `id`, if one is due. */
  async #hold(tx: Tx, handleKey: string, id: string, preimage: Buffer): Promise<PayoutRecord | { waitUntil: Date } | undefined> {
    const binding = await tx.get<Binding>(`binding:${handleKey}`);
    // One payout of a handle at a time, none while another account waits out its cooling-off.
    if (!binding || (await tx.get(`payoutopen:${handleKey}`)) !== undefined || (await tx.get(`rebind:${handleKey}`)) !== undefined) return undefined;
    const retry = await tx.get<RetryState>(`paytry:${handleKey}`);
    if (retry && new Date(retry.nextAt) > tx.now) return { waitUntil: new Date(retry.nextAt) };
    const escrowMsat = await tx.balance(accounts.escrow(handleKey));
    const split = escrowMsat >= this.#options.minMsat ? payoutSplit(escrowMsat, this.#options.feeBaseMsat, this.#options.feePpm) : undefined;
    if (!split) return undefined;
    const record: PayoutRecord = {
      id,
      handleKey,
      nodePubkey: binding.nodePubkey,
      amountMsat: split.amountMsat.toString(),
      feeCapMsat: split.feeCapMsat.toString(),
      feeMsat: null,
      preimage: preimage.toString('hex'),
      paymentHash: hash('sha256', preimage),
      state: 'pending',
      failureReason: null,
      createdAt: tx.now.toISOString(),
      settledAt: null,
    };
    await tx.transfer('payout.hold', accounts.escrow(handleKey), pendingAccount(id), split.amountMsat + split.feeCapMsat, { handle: handleKey, payout: id });
    tx.put(`payout:${id}`, record);
    tx.put(`payoutopen:${handleKey}`, id);
    tx.put(`hpayout:${handleKey}:${record.createdAt}:${id}`, 0);
    tx.emit('payout.pending', [`handle:${handleKey}`], { handle: binding.handle, ...this.#view(record) });
    return record;
  }

  /** Books LND's final word, if the payout is still pending (compare-and-set in the writer). */
  async #settle(id: string, outcome: PaymentState): Promise<void> {
    const settled = await this.#ledger.run(
      async (tx) => {
        const record = (await tx.get<PayoutRecord>(`payout:${id}`))!;
        if (record.state === 'failed' && outcome.state === 'succeeded') {
          // Voided, yet LND paid it: its escrow may have been paid again. Never silently.
          this.#log.fatal(
            { payout: id, handle: record.handleKey, amountMsat: record.amountMsat },
            'a payout booked as failed was paid by LND: check this handle by hand',
          );
        }
        if (record.state !== 'pending' || (outcome.state !== 'succeeded' && outcome.state !== 'failed')) return undefined;
        const pending = pendingAccount(id);
        const escrow = accounts.escrow(record.handleKey);
        const heldMsat = BigInt(record.amountMsat) + BigInt(record.feeCapMsat);
        const meta = { handle: record.handleKey, payout: id };
        let updated: PayoutRecord;
        if (outcome.state === 'succeeded') {
          // LND was told the cap and the amount: anything else is a bug, not something to book.
          if (outcome.feeMsat > BigInt(record.feeCapMsat)) throw new Error(`payout ${id}: fee ${outcome.feeMsat} msat above the cap ${record.feeCapMsat}`);
          if (outcome.amountMsat !== BigInt(record.amountMsat)) throw new Error(`payout ${id}: LND paid ${outcome.amountMsat} msat, not ${record.amountMsat}`);
          await tx.transfer('payout', pending, accounts.payouts, outcome.amountMsat, meta);
          if (outcome.feeMsat > 0n) await tx.transfer('payout.fee', pending, accounts.fees, outcome.feeMsat, meta);
          await release(tx, pending, escrow, heldMsat - outcome.amountMsat - outcome.feeMsat, 'payout.release', meta);
          tx.del(`paytry:${record.handleKey}`);
          updated = { ...record, state: 'succeeded', feeMsat: outcome.feeMsat.toString(), settledAt: tx.now.toISOString() };
        } else {
          await release(tx, pending, escrow, heldMsat, 'payout.void', meta);
          const failures = ((await tx.get<RetryState>(`paytry:${record.handleKey}`))?.failures ?? 0) + 1;
          const waitMs = Math.min(this.#options.retryMaxMs, this.#options.retryMs * 2 ** Math.min(failures - 1, 30));
          tx.put(`paytry:${record.handleKey}`, { failures, nextAt: new Date(tx.now.getTime() + waitMs).toISOString() } satisfies RetryState);
          updated = { ...record, state: 'failed', failureReason: outcome.reason, settledAt: tx.now.toISOString() };
        }
        tx.put(`payout:${id}`, updated);
        tx.del(`payoutopen:${record.handleKey}`);
        tx.emit(`payout.${updated.state}`, [`handle:${record.handleKey}`], { handle: record.handleKey, ...this.#view(updated) });
        return updated;
      },
      { sync: true },
    );
    if (!settled) return;
    this.#log.info(
      { payout: id, handle: settled.handleKey, state: settled.state, amountMsat: settled.amountMsat, feeMsat: settled.feeMsat, reason: settled.failureReason },
      'payout settled',
    );
    // More may have come in meanwhile; after a failure, the retry state says when to try again.
    this.kick(settled.handleKey);
  }

  /** Looks every pending payout up by hash and books LND's answer; at start and periodically. */
  async reconcile(): Promise<void> {
    const open = (await this.#ledger.db.values({ gt: 'payoutopen:', lt: prefixEnd('payoutopen:') }).all()) as string[];
    const pending = ((await this.#ledger.db.getMany(open.map((id) => `payout:${id}`))) as (PayoutRecord | undefined)[]).filter(
      (record): record is PayoutRecord => record?.state === 'pending',
    );
    await reconcilePending(pending, {
      lnd: this.#lnd,
      sending: this.#sending,
      now: this.#now(),
      settle: (id, state) => this.#settle(id, state),
      log: this.#log,
      what: 'payout',
    });
  }

  /** Kicks every bound handle once (pages of bindings), and wakes handles waiting to retry. */
  async #catchUp(): Promise<void> {
    let from = 'binding:';
    for (;;) {
      const keys = await this.#ledger.db.keys({ gt: from, lt: prefixEnd('binding:'), limit: 1_000 }).all();
      if (keys.length === 0) break;
      for (const key of keys) this.kick(key.slice('binding:'.length));
      from = keys.at(-1)!;
    }
    for await (const [key, retry] of this.#ledger.db.iterator({ gt: 'paytry:', lt: prefixEnd('paytry:') })) {
      this.#retryAt(key.slice('paytry:'.length), new Date((retry as RetryState).nextAt));
    }
  }

  #onEvents = (events: LedgerEvent[]): void => {
    for (const event of events) {
      if ((event.type !== 'tip.sent' && event.type !== 'handle.allocated') || BigInt(event.data.pendingMsat as string) < this.#options.minMsat) continue;
      const topic = event.topics.find((t) => t.startsWith('handle:'));
      if (topic) this.kick(topic.slice('handle:'.length));
    }
  };

  /**
   * Starts paying: settles the payouts a stop left pending, catches up with what happened while
   * stopped, then follows new tips and rechecks what is pending. A start called again while one is
   * under way (main retries when LND was not ready) takes over: the earlier one stops there.
   */
  async start(): Promise<void> {
    this.stop();
    this.#stopped = false;
    const start = ++this.#starts;
    const current = () => start === this.#starts && !this.#stopped;
    this.#unsubscribe = this.#ledger.onEvents(this.#onEvents);
    await this.reconcile();
    if (!current()) return;
    await this.#catchUp();
    if (!current()) return;
    this.#recheck = repeat('rechecking pending payouts', this.#options.recheckMs, () => this.reconcile(), this.#log, this.#options.recheckMs);
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#recheck?.stop();
    for (const timer of this.#retryTimers.values()) clearTimeout(timer);
    this.#retryTimers.clear();
  }
}

async function release(
  tx: Tx,
  pending: ReturnType<typeof pendingAccount>,
  escrow: ReturnType<typeof accounts.escrow>,
  amountMsat: bigint,
  kind: string,
  meta: Record<string, string>,
) {
  if (amountMsat > 0n) await tx.transfer(kind, pending, escrow, amountMsat, meta);
}
