// Payouts: the escrow of a claimed handle paid to its bound destination (destination.ts: a node by
// keysend, or a Lightning Address by LNURL-pay), and unclaimed tips paid by LNURL-pay back to their
// payers' addresses (purposes.ts), exactly once. A payout is made ready first, nothing stored (an
// address's invoice fetched and checked); then it is a pending transfer: amount and fee cap are
// held from escrow in the same batch that records the payout, before LND is called; LND's
// answer is booked by the one settle path (payments/outgoing.ts): success posts the real fee and
// returns the unused cap to escrow; only LND's own final "failed" voids it (and a later payout is
// tried, with backoff); anything else (timeout, dropped connection, LND restarting) leaves it
// pending, to be looked up by payment hash, later in this run and at every start. What is a
// payout's own in that path is in records.ts.
import { randomBytes } from 'node:crypto';
import { Refusal } from '../errors.ts';
import { topics, type EventData, type StoredEvent } from '../events/types.ts';
import { accounts, InvariantViolation, type Account, type Ledger, type Tx } from '../ledger/ledger.ts';
import { after, keys, lastPart, prefixes, under } from '../ledger/keys.ts';
import { hold, pendingAccount } from '../ledger/pending.ts';
import { parseStored } from '../ledger/records.ts';
import { feeCap } from '../ledger/money.ts';
import { hashTaken, OutgoingPayments } from '../payments/outgoing.ts';
import { crashPoint } from '../process/crash.ts';
import type { Logger } from '../process/log.ts';
import { repeat } from '../process/repeat.ts';
import { challengeWords, prepare, send, storedFieldsOf, type Destination, type Prepared, type Rails } from './destination.ts';
import { held as heldFor, stillStands, targetOf, type Purpose } from './purposes.ts';
import { backOff, heldBy, lotBackOff, payoutKind, payoutTransfers, payoutView, retrySchema, type PayoutRecord, type PayoutView } from './records.ts';

/** An address's invoice with less time left than this when its hold would be written is not paid (a new one is fetched). */
const invoiceLeftMinMs = 30_000;

/**
 * What `#hold` reads, named for the writer to fetch for a whole batch of operations in one read
 * (RunOptions.prefetch): without it, a burst of holds waits in the writer on one read after
 * another, most of them of keys that are absent. Only a read ahead: `#hold` still reads and checks
 * each of them itself.
 */
function holdReads(handleKey: string, id: string, plan: Plan): { prefetch: string[]; balances: Account[] } {
  const { purpose, prepared } = plan;
  return {
    prefetch: [
      keys.openPayout(handleKey),
      keys.binding(handleKey),
      ...(purpose.kind === 'creator' ? [keys.rebinding(handleKey), keys.payoutRetry(handleKey)] : [keys.payerLot(handleKey, purpose.lotId)]),
      keys.payoutByHash(prepared.paymentHash),
      keys.withdrawalByHash(prepared.paymentHash),
      keys.restoreBooking(prepared.paymentHash),
    ],
    balances: [accounts.escrow(handleKey), pendingAccount(payoutTransfers, id)],
  };
}

/** A payout made ready to hold: what it is for, where to, with its fee cap. */
interface Plan {
  purpose: Purpose;
  display: string;
  destination: Destination;
  prepared: Prepared;
  feeCapMsat: bigint;
}

/** The start of a handle's topic, which ends with its key. */
const handleTopic = topics.handle('');

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
  /** Most payouts out at once (held and sent; making one ready takes no slot). */
  sendingMax: number;
  /**
   * tipd is winding down (winddown/): no more tips will lift a creator's escrow to `minMsat`, so it
   * is paid whatever its size, down to a sat.
   */
  windingDown?: () => boolean;
  /**
   * Whether new payouts wait for the operator (a ledger restored from a backup may owe again what
   * was paid after it: backup/restored.ts); `resume()` takes them up.
   */
  paymentsHeld?: () => boolean;
  now?: () => Date;
}

/** The least a creator's payout carries while tipd winds down. */
const windDownMinMsat = 1_000n;

export class Payouts {
  readonly #ledger: Ledger;
  readonly #rails: Rails;
  readonly #log: Logger;
  readonly #options: PayoutOptions;
  readonly #now: () => Date;
  /** Handles being worked on, and whether another look was asked for meanwhile. */
  readonly #active = new Map<string, { again: boolean }>();
  /** The settle-and-reconcile path, with what is a payout's own (records.ts). */
  readonly #payments: OutgoingPayments<PayoutRecord>;
  readonly #retryTimers = new Map<string, NodeJS.Timeout>();
  /** Payer lots of unclaimed handles due to go back to their payers' addresses, by handle. */
  readonly #refundsDue = new Map<string, Set<string>>();
  readonly #slots: (() => void)[] = [];
  #inFlight = 0;
  #stopped = true;
  /** Counts calls of `start`: see there. */
  #starts = 0;
  #recheck: { stop(): void } | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(ledger: Ledger, rails: Rails, log: Logger, options: PayoutOptions) {
    this.#ledger = ledger;
    this.#rails = rails;
    this.#log = log;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.#payments = new OutgoingPayments(
      ledger,
      rails.lnd,
      log,
      payoutKind(ledger, options, (handleKey) => this.kick(handleKey)),
    );
  }

  /** A handle's payouts, newest first, `limit` at a time; `before` is the cursor of the last page. */
  async list(handleKey: string, limit: number, before?: string): Promise<{ payouts: PayoutView[]; next: string | undefined }> {
    const prefix = prefixes.handlePayouts(handleKey);
    const found = await this.#ledger.db.keys({ ...under(prefix), ...(before ? { lt: `${prefix}${before}` } : {}), reverse: true, limit }).all();
    const records = (await this.#ledger.db.getMany(found.map((key) => keys.payout(lastPart(key))))) as PayoutRecord[];
    return { payouts: records.map(payoutView), next: found.length === limit ? after(prefix, found.at(-1)!) : undefined };
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
        // A broken money invariant is no failure to try again: it goes on, unhandled, to stop tipd (main.ts).
        if (err instanceof InvariantViolation) throw err;
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

  /**
   * Asks for unclaimed tips of a handle, paid by LNURL-pay, to go back to their payers' Lightning
   * Addresses (`lotIds`: their payer lots; the refund sweep finds them): one payout each, in turn.
   */
  refund(handleKey: string, lotIds: readonly string[]): void {
    // Kept while stopped (the sweep may run before LND is ready): `start` takes them up.
    let due = this.#refundsDue.get(handleKey);
    if (!due) this.#refundsDue.set(handleKey, (due = new Set()));
    for (const id of lotIds) due.add(id);
    this.kick(handleKey);
  }

  async #payOnce(handleKey: string): Promise<void> {
    if (this.#options.paymentsHeld?.()) return;
    const purpose = await this.#purposeNow(handleKey);
    if (!purpose || this.#stopped) return;
    // Made ready outside the sending slots: a slow address server must not stall other payouts.
    const plan = await this.#plan(handleKey, purpose);
    if (!plan) return;
    if ('waitUntil' in plan) return this.#retryAt(handleKey, plan.waitUntil);
    // The sending slot is taken before the hold: a held payout must go to LND at once, never wait
    // in a queue long enough for the recheck to take it as never sent.
    const release = await this.#slot();
    try {
      await this.#holdAndSend(handleKey, plan);
    } finally {
      release();
    }
  }

  /** What a look at the handle should pay, if anything: its creator, or else one of its due refunds. */
  async #purposeNow(handleKey: string): Promise<Purpose | undefined> {
    // Cheap looks first (cached reads): most tips go to handles nobody claimed.
    if ((await this.#ledger.read(keys.binding(handleKey))) !== undefined) {
      this.#refundsDue.delete(handleKey);
      return (await this.#ledger.balance(accounts.escrow(handleKey))) < this.#minMsat() ? undefined : { kind: 'creator' };
    }
    const due = this.#refundsDue.get(handleKey);
    const lotId = due?.values().next().value;
    if (lotId === undefined) return undefined;
    due!.delete(lotId);
    if (due!.size === 0) this.#refundsDue.delete(handleKey);
    else this.#active.get(handleKey)!.again = true;
    return { kind: 'refund', lotId };
  }

  async #holdAndSend(handleKey: string, plan: Plan): Promise<void> {
    // Woken from the wait for a slot by a stop: hold nothing.
    if (this.#stopped) return;
    const { prepared, destination } = plan;
    const id = randomBytes(12).toString('base64url');
    // This process's before its hold can be on disk: the recheck leaves it alone until sent.
    await this.#payments.sending(id, async () => {
      const held = await this.#ledger.run((tx) => this.#hold(tx, handleKey, id, plan), { sync: true, ...holdReads(handleKey, id, plan) });
      if (!held) return;
      if ('waitUntil' in held) return this.#retryAt(handleKey, held.waitUntil);
      if ('repeated' in held) {
        const refusal = new Refusal('address_bad_invoice', 'the address gave an invoice that another payment of tipd pays, or has paid');
        const nextAt = await this.#failedAttempt(handleKey, plan.purpose, refusal);
        if (plan.purpose.kind === 'creator') this.#retryAt(handleKey, nextAt);
        return;
      }
      crashPoint('payout.held-not-sent');
      // Stopping: not sent; the next start finds LND never saw it and voids it after the grace time.
      if (this.#stopped) return;
      this.#log.info(
        { payout: id, handle: handleKey, ...storedFieldsOf(destination), amountMsat: held.amountMsat, feeCapMsat: held.feeCapMsat },
        'payout held; sending',
      );
      const outcome = await send(this.#rails.lnd, destination, prepared, BigInt(held.feeCapMsat));
      crashPoint('payout.sent-not-booked');
      if (outcome.state !== 'succeeded' && outcome.state !== 'failed') {
        this.#log.warn(
          { payout: id, handle: handleKey, state: outcome.state, reason: 'reason' in outcome ? outcome.reason : undefined },
          'payout outcome unknown: it stays pending and is looked up by payment hash',
        );
      }
      await this.#payments.settle(id, outcome);
    });
  }

  /**
   * Outside the writer, before anything is held: what a payout of the handle would be now, made
   * ready to send (for a Lightning Address: its invoice fetched and checked). Nothing of it is
   * stored until the hold: an invoice fetched when tipd stops is forgotten, never paid, and the
   * next payout asks for a new one. A failure to make it ready (the address down, an error, a bad
   * invoice) is a failed attempt: nothing held, nothing paid, the next one after the backoff.
   */
  async #plan(handleKey: string, purpose: Purpose): Promise<Plan | { waitUntil: Date } | undefined> {
    if ((await this.#ledger.read(keys.openPayout(handleKey))) !== undefined) return undefined;
    // A creator's payouts back off by handle; a refund by its lot (purposes.ts), so that one payer's bad address holds up no other.
    const waitUntil = purpose.kind === 'creator' ? await this.#retryWait((key) => this.#ledger.read(key), handleKey, this.#now()) : undefined;
    if (waitUntil) return { waitUntil };
    const target = await targetOf(this.#ledger, handleKey, purpose, this.#options, this.#now());
    // A creator's payout waits for the minimum; a refund goes back whatever its size, if the address takes it.
    if (!target || (purpose.kind === 'creator' && target.maxAmountMsat < this.#minMsat())) return undefined;
    const { destination } = target;
    let prepared: Prepared | undefined;
    try {
      prepared = await prepare(this.#rails, destination, target.maxAmountMsat, {
        comment: target.comment,
        hubPubkey: await this.#rails.lnd.ownPubkey(),
        now: this.#now(),
      });
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      const nextAt = await this.#failedAttempt(handleKey, purpose, err as Refusal);
      return purpose.kind === 'creator' ? { waitUntil: nextAt } : undefined;
    }
    // The destination takes no payout this small (an address's minimum): more tips will come; a
    // refund that small waits for the handle's claim (its lot backs off, not to be asked each hour).
    if (!prepared || (purpose.kind === 'creator' && prepared.amountMsat < this.#minMsat())) {
      if (purpose.kind === 'refund') {
        await this.#ledger.run((tx) => lotBackOff(tx, handleKey, purpose.lotId, this.#options));
        return undefined;
      }
      // The escrow holds the minimum payout, yet the address takes none that small any more: said, and tried again later.
      const refusal = new Refusal('address_limits', `${challengeWords(destination)} takes no payout of ${target.maxAmountMsat / 1000n} sat or less`);
      return { waitUntil: await this.#failedAttempt(handleKey, purpose, refusal) };
    }
    crashPoint('payout.prepared-not-held');
    const feeCapMsat = feeCap(prepared.amountMsat, { baseMsat: this.#options.feeBaseMsat, ppm: this.#options.feePpm });
    return { purpose, display: target.display, destination, prepared, feeCapMsat };
  }

  /** When the handle's next creator payout may be tried, if it must wait (`paytry:`). */
  async #retryWait(read: (key: string) => Promise<unknown>, handleKey: string, now: Date): Promise<Date | undefined> {
    const retryKey = keys.payoutRetry(handleKey);
    const retry = await read(retryKey);
    const nextAt = retry === undefined ? undefined : new Date(parseStored(retrySchema, retryKey, retry).nextAt);
    return nextAt && nextAt > now ? nextAt : undefined;
  }

  /**
   * A payout that could not be made ready: it waits (backoff, as after a failed payout). A
   * creator's: the handle waits, and its followers are told why. A refund: its lot waits, and
   * nobody is told (the payer's address is theirs alone).
   */
  async #failedAttempt(handleKey: string, purpose: Purpose, refusal: Refusal): Promise<Date> {
    const nextAt = await this.#ledger.run(
      async (tx) => {
        if (purpose.kind === 'refund') return lotBackOff(tx, handleKey, purpose.lotId, this.#options);
        const at = await backOff(tx, handleKey, this.#options);
        tx.emit('payout.attempt_failed', [topics.handle(handleKey)], {
          handle: handleKey,
          code: refusal.code,
          reason: refusal.message,
          nextAttemptAt: at.toISOString(),
        } satisfies EventData['payout.attempt_failed']);
        return at;
      },
      { sync: true },
    );
    this.#log.warn(
      { handle: handleKey, purpose: purpose.kind, code: refusal.code, nextAttemptAt: nextAt.toISOString() },
      `payout not made ready${purpose.kind === 'refund' ? '' : `: ${refusal.message}`}`,
    );
    return nextAt;
  }

  /** Inside the writer: holds what `plan` pays from the handle's escrow as payout `id`, if it still stands. */
  async #hold(tx: Tx, handleKey: string, id: string, plan: Plan): Promise<PayoutRecord | { waitUntil: Date } | { repeated: true } | undefined> {
    // One payout of a handle at a time; and it must still stand (the destination, the lot: purposes.ts).
    if ((await tx.get(keys.openPayout(handleKey))) !== undefined || !(await stillStands(tx, handleKey, plan.purpose, plan.destination))) return undefined;
    const { destination, prepared, feeCapMsat } = plan;
    if (plan.purpose.kind === 'creator') {
      const waitUntil = await this.#retryWait((key) => tx.get(key), handleKey, tx.now);
      if (waitUntil) return { waitUntil };
    }
    // An invoice another payment of tipd has (or had, booked after a restore): never paid twice, never booked for another.
    if (await hashTaken(tx, prepared.paymentHash)) return { repeated: true };
    // Kept waiting for a slot until its invoice is about to expire: a new one next time.
    if (prepared.type === 'lightning_address' && prepared.expiresAt.getTime() - tx.now.getTime() < invoiceLeftMinMs) return undefined;
    if ((await tx.balance(accounts.escrow(handleKey))) < prepared.amountMsat + feeCapMsat) return undefined;
    const record: PayoutRecord = {
      id,
      handleKey,
      ...storedFieldsOf(destination),
      amountMsat: prepared.amountMsat.toString(),
      feeCapMsat: feeCapMsat.toString(),
      feeMsat: null,
      preimage: prepared.type === 'node' ? prepared.preimage.toString('hex') : null,
      paymentHash: prepared.paymentHash,
      ...(prepared.type === 'lightning_address'
        ? { paymentRequest: prepared.paymentRequest, descriptionHash: prepared.descriptionHash, successMessage: prepared.successMessage }
        : {}),
      ...(plan.purpose.kind === 'refund' ? { refundOf: plan.purpose.lotId } : {}),
      state: 'pending',
      failureReason: null,
      createdAt: tx.now.toISOString(),
      settledAt: null,
    };
    await hold(tx, payoutTransfers, heldBy(record));
    await heldFor(tx, handleKey, plan.purpose, id);
    tx.put(keys.payout(id), record);
    tx.put(keys.payoutByHash(record.paymentHash), id);
    tx.put(keys.openPayout(handleKey), id);
    tx.put(keys.handlePayout(handleKey, record.createdAt, id), 0);
    tx.emit('payout.pending', [topics.handle(handleKey)], { handle: plan.display, ...payoutView(record) } satisfies EventData['payout.pending']);
    return record;
  }

  /** Escrow below this waits for more tips; while winding down, none will come. */
  #minMsat(): bigint {
    return this.#options.windingDown?.() ? windDownMinMsat : this.#options.minMsat;
  }

  /** Looks again at every bound handle: the wind-down has lowered the least a payout carries. */
  payAllBound(): Promise<void> {
    return this.#catchUp();
  }

  /** Looks every pending payout up by hash and books LND's answer; at start and periodically. */
  reconcile(): Promise<void> {
    return this.#payments.reconcile(this.#now());
  }

  /** Kicks every bound handle once (pages of bindings), and wakes handles waiting to retry. */
  async #catchUp(): Promise<void> {
    let from = prefixes.bindings;
    for (;;) {
      const bound = await this.#ledger.db.keys({ ...under(prefixes.bindings), gt: from, limit: 1_000 }).all();
      if (bound.length === 0) break;
      for (const key of bound) this.kick(after(prefixes.bindings, key));
      from = bound.at(-1)!;
    }
    for await (const [key, retry] of this.#ledger.db.iterator(under(prefixes.payoutRetries))) {
      this.#retryAt(after(prefixes.payoutRetries, key), new Date(parseStored(retrySchema, key, retry).nextAt));
    }
  }

  /** A tip or an allocation to a handle that may now hold enough for a payout. */
  #onEvents = (events: readonly StoredEvent[]): void => {
    for (const event of events) {
      switch (event.type) {
        case 'tip.sent':
        case 'handle.tipped':
        case 'handle.allocated': {
          if (BigInt(event.data.pendingMsat) < this.#minMsat()) break;
          const topic = event.topics.find((t) => t.startsWith(handleTopic));
          if (topic) this.kick(after(handleTopic, topic));
          break;
        }
      }
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
    // Refunds handed over before the start (the sweep runs before LND is ready).
    for (const handleKey of this.#refundsDue.keys()) this.kick(handleKey);
    this.#recheck = repeat('rechecking pending payouts', this.#options.recheckMs, () => this.reconcile(), this.#log, this.#options.recheckMs);
  }

  /** Payments held until now may go: every bound handle and due refund is looked at again. */
  async resume(): Promise<void> {
    if (this.#stopped) return;
    await this.#catchUp();
    for (const handleKey of this.#refundsDue.keys()) this.kick(handleKey);
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#recheck?.stop();
    for (const timer of this.#retryTimers.values()) clearTimeout(timer);
    this.#retryTimers.clear();
  }
}
