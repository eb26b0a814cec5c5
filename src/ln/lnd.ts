// tipd's client of LND: the rest of tipd talks to LND only through `Lnd`, and only ln/ imports
// `lightning`. Every call has a timeout, every field tipd relies on is checked with zod
// (answers.ts), amounts are bigint millisatoshis, and LND's errors become LndError with a code
// (errors.ts). Outgoing payments are in payments.ts.
import {
  authenticatedLndGrpc,
  cancelHodlInvoice,
  createInvoice,
  getChannelBalance,
  getInvoice,
  getInvoices,
  getNode,
  getPayments,
  getPendingPayments,
  getRouteToDestination,
  getWalletInfo,
  signMessage,
  subscribeToInvoices,
  verifyMessage,
  type AuthenticatedLnd,
} from 'lightning';
import type { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { Network } from '../config.ts';
import { hex32, msat, parseAnswer, pubkey } from './answers.ts';
import { asLndError, errorText, LndError } from './errors.ts';
import { getPayment, keysend, keysendRecordType, payInvoice, type PaymentState, type PaymentsLnd } from './payments.ts';

export { asLndError, LndError, type LndErrorCode } from './errors.ts';
export type { PaymentState } from './payments.ts';

/** Genesis block hashes as block explorers show them; LND reports them byte-reversed. */
const genesisHashes: Record<Network, string> = {
  mainnet: '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f',
  testnet: '000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943',
  testnet4: '00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043',
  signet: '00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6',
  regtest: '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206',
};
const chainIds = Object.fromEntries(
  Object.entries(genesisHashes).map(([network, genesis]) => [network, Buffer.from(genesis, 'hex').reverse().toString('hex')]),
) as Record<Network, string>;

const keysendFeatureBit = 55;

export interface LndConnection {
  socket: string;
  /** base64 of the tls.cert file */
  cert: string;
  /** base64 of the macaroon file */
  macaroon: string;
  timeoutMs: number;
}

/**
 * Told of every call to LND once it ends: its method, its outcome (`ok`, an LndError's code, a
 * payment's state) and how long it took; for metrics.
 */
export type LndCallObserver = (method: string, outcome: string, seconds: number) => void;

export interface NodeInfo {
  pubkey: string;
  alias: string;
  chainIds: string[];
  blockHeight: number;
  syncedToChain: boolean;
  version: string;
}

export interface Invoice {
  paymentHash: string;
  paymentRequest: string;
  amountMsat: bigint;
  expiresAt: Date;
}

export interface SettledInvoice {
  paymentHash: string;
  /** What was actually received, which may exceed the invoice's amount. */
  receivedMsat: bigint;
  /** LND's settle index: a cursor to resume from after a restart. */
  settleIndex: number;
  settledAt: Date;
  /** A keysend (spontaneous) payment, not an invoice anyone created. */
  isKeysend: boolean;
}

const walletInfoSchema = z.object({
  public_key: pubkey,
  alias: z.string(),
  chains: z.array(z.string()),
  current_block_height: z.number().int().nonnegative(),
  is_synced_to_chain: z.boolean(),
  version: z.string(),
});

const invoiceUpdateSchema = z.object({
  id: hex32,
  is_confirmed: z.boolean(),
  is_push: z.boolean().optional(),
  received_mtokens: msat,
  confirmed_index: z.number().int().positive().optional(),
  confirmed_at: z.string().optional(),
});

function toSettled(update: z.infer<typeof invoiceUpdateSchema>): SettledInvoice {
  return {
    paymentHash: update.id,
    receivedMsat: update.received_mtokens,
    settleIndex: update.confirmed_index ?? 0,
    settledAt: update.confirmed_at ? new Date(update.confirmed_at) : new Date(),
    isKeysend: update.is_push === true,
  };
}

const nodeSchema = z.object({ alias: z.string(), channel_count: z.number().int().nonnegative(), features: z.array(z.object({ bit: z.number().int() })) });

/** Listed a page at a time. */
const pageSize = 250;

/** An outgoing payment as LND lists it. */
export interface OutgoingPayment {
  paymentHash: string;
  /** Absent for a keysend in flight that has sent no HTLC yet. */
  destination: string | null;
  amountMsat: bigint;
  feeMsat: bigint;
  createdAt: string;
  state: 'succeeded' | 'pending';
}

/** A settled invoice (or keysend received) as LND lists it. */
export interface IncomingPayment {
  paymentHash: string;
  receivedMsat: bigint;
  settledAt: string | null;
  keysend: boolean;
}

export class Lnd {
  readonly #lnd: AuthenticatedLnd;
  readonly #timeoutMs: number;
  readonly #observe: LndCallObserver | undefined;
  #ownPubkey: string | undefined;

  constructor(connection: LndConnection, observe?: LndCallObserver) {
    this.#lnd = authenticatedLndGrpc({ socket: connection.socket, cert: connection.cert, macaroon: connection.macaroon }).lnd;
    this.#timeoutMs = connection.timeoutMs;
    this.#observe = observe;
  }

  async #call<T>(what: string, call: () => Promise<T>, timeoutMs = this.#timeoutMs): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LndError('lnd_unavailable', `${what}: no answer from LND within ${timeoutMs} ms`)), timeoutMs);
    });
    const started = performance.now();
    let outcome = 'ok';
    try {
      return await Promise.race([call(), timeout]);
    } catch (err) {
      const error = asLndError(err, what);
      outcome = error instanceof LndError ? error.code : 'error';
      throw error;
    } finally {
      clearTimeout(timer);
      this.#observe?.(what, outcome, (performance.now() - started) / 1000);
    }
  }

  /** A payment call (payments.ts), observed as `#call`'s are: its outcome is the payment's state. */
  async #payment<T extends PaymentState | undefined>(what: string, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let outcome = 'error';
    try {
      const state = await call();
      outcome = state?.state ?? 'not_found';
      return state;
    } catch (err) {
      if (err instanceof LndError) outcome = err.code;
      throw err;
    } finally {
      this.#observe?.(what, outcome, (performance.now() - started) / 1000);
    }
  }

  async getInfo(timeoutMs?: number): Promise<NodeInfo> {
    const info = parseAnswer('getinfo', walletInfoSchema, await this.#call('getinfo', () => getWalletInfo({ lnd: this.#lnd }), timeoutMs));
    return {
      pubkey: info.public_key,
      alias: info.alias,
      chainIds: info.chains,
      blockHeight: info.current_block_height,
      syncedToChain: info.is_synced_to_chain,
      version: info.version,
    };
  }

  /** The node's own public key, asked once: it never changes for a node. */
  async ownPubkey(): Promise<string> {
    this.#ownPubkey ??= (await this.getInfo()).pubkey;
    return this.#ownPubkey;
  }

  /** The node is on `network` and synced to the chain; otherwise an LndError saying which is not so. */
  async checkReady(network: Network, timeoutMs?: number): Promise<NodeInfo> {
    const info = await this.getInfo(timeoutMs);
    if (!info.chainIds.includes(chainIds[network])) {
      const actual = Object.entries(chainIds).find(([, id]) => info.chainIds.includes(id))?.[0] ?? info.chainIds.join(',');
      throw new LndError('lnd_wrong_network', `LND is on ${actual}, tipd is configured for ${network} (TIPD_NETWORK)`);
    }
    if (!info.syncedToChain) throw new LndError('lnd_not_synced', `LND is not synced to the chain yet (at height ${info.blockHeight})`);
    return info;
  }

  /**
   * `preimage`: chosen by the caller, so that it can record the payment hash before LND knows it.
   * An invoice carries a `description`, or commits to one by its SHA-256 (`descriptionHash`, as LNURL-pay's do).
   */
  async createInvoice(
    args: { amountMsat: bigint; expiresAt: Date; preimage?: Buffer } & ({ description: string } | { descriptionHash: Buffer }),
  ): Promise<Invoice> {
    const created = await this.#call('createInvoice', () =>
      createInvoice({
        lnd: this.#lnd,
        mtokens: args.amountMsat.toString(),
        ...('descriptionHash' in args ? { description_hash: args.descriptionHash.toString('hex') } : { description: args.description }),
        expires_at: args.expiresAt.toISOString(),
        ...(args.preimage ? { secret: args.preimage.toString('hex') } : {}),
      }),
    );
    const invoice = parseAnswer('createInvoice', z.object({ id: hex32, request: z.string().min(1), mtokens: msat }), created);
    return { paymentHash: invoice.id, paymentRequest: invoice.request, amountMsat: invoice.mtokens, expiresAt: args.expiresAt };
  }

  /** An invoice of this node by payment hash; `undefined` when LND has none. */
  async getInvoice(
    paymentHash: string,
  ): Promise<{ state: 'open' | 'settled' | 'canceled'; request: string | undefined; settled?: SettledInvoice } | undefined> {
    let invoice;
    try {
      invoice = await this.#call('getInvoice', () => getInvoice({ lnd: this.#lnd, id: paymentHash }));
    } catch (err) {
      // NOT_FOUND: "unable to locate invoice", or "there are no existing invoices" on a new node.
      if (err instanceof LndError && err.grpcCode === 5) return undefined;
      throw err;
    }
    const update = parseAnswer('getInvoice', invoiceUpdateSchema.extend({ is_canceled: z.boolean().optional(), request: z.string().optional() }), invoice);
    if (update.is_canceled) return { state: 'canceled', request: update.request };
    if (!update.is_confirmed || update.confirmed_index === undefined) return { state: 'open', request: update.request };
    return { state: 'settled', request: update.request, settled: toSettled(update) };
  }

  /**
   * Cancels an open invoice of this node (a regular one too): LND then refuses its payment. Throws
   * when LND cannot (the invoice settled meanwhile, or unknown): look it up to know where it stands.
   */
  async cancelInvoice(paymentHash: string): Promise<void> {
    await this.#call('cancelInvoice', () => cancelHodlInvoice({ lnd: this.#lnd, id: paymentHash }));
  }

  /**
   * Follows settled invoices (and keysends) with settle index above `settledAfterIndex`, replaying
   * the backlog first (LND replays only above a cursor of at least 1: 0 means "from now on").
   * Settlements are handed over one at a time, in order; an index counts as handled only once
   * `onSettled` has resolved. When it throws, or the stream breaks or says something unexpected,
   * the subscription starts again from the last handled index, so nothing is skipped.
   */
  watchSettledInvoices(
    settledAfterIndex: number,
    onSettled: (invoice: SettledInvoice) => Promise<void>,
    onError: (err: LndError) => void,
    retryDelayMs = 2_000,
  ): { stop(): void } {
    let handled = settledAfterIndex;
    let stopped = false;
    let subscription: EventEmitter | undefined;
    let retry: NodeJS.Timeout | undefined;
    let queue = Promise.resolve();
    const drop = () => {
      subscription?.removeAllListeners();
      subscription?.on('error', () => {});
      subscription = undefined;
    };
    const restart = (err: LndError) => {
      drop();
      if (stopped || retry) return;
      onError(err);
      retry = setTimeout(() => {
        retry = undefined;
        subscribe();
      }, retryDelayMs);
    };
    const subscribe = () => {
      if (stopped) return;
      const sub = subscribeToInvoices({ lnd: this.#lnd, confirmed_after: handled, restart_delay_ms: 2 ** 31 - 1 });
      subscription = sub;
      sub.on('invoice_updated', (event: unknown) => {
        queue = queue
          .then(async () => {
            if (sub !== subscription) return;
            const update = parseAnswer('invoice update', invoiceUpdateSchema, event);
            if (!update.is_confirmed || update.confirmed_index === undefined || update.confirmed_index <= handled) return;
            await onSettled(toSettled(update));
            handled = update.confirmed_index;
          })
          .catch((err: unknown) =>
            restart(err instanceof LndError ? err : new LndError('lnd_rejected', `handling a settled invoice failed: ${errorText(err, 'onSettled')}`)),
          );
      });
      sub.on('error', (err: unknown) => {
        const error = asLndError(err, 'subscribeToInvoices');
        restart(error instanceof LndError ? error : new LndError('lnd_rejected', errorText(error, 'subscribeToInvoices')));
      });
    };
    subscribe();
    return {
      stop() {
        stopped = true;
        clearTimeout(retry);
        drop();
      },
    };
  }

  get #payments(): PaymentsLnd {
    return { lnd: this.#lnd, timeoutMs: this.#timeoutMs };
  }

  /**
   * Sends a keysend payment carrying `preimage` (32 random bytes the caller generated and
   * recorded before calling). Routing fees are capped at maxFeeMsat.
   */
  keysend(args: { destination: string; amountMsat: bigint; maxFeeMsat: bigint; preimage: Buffer }): Promise<PaymentState> {
    return this.#payment('keysend', () => keysend(this.#payments, args));
  }

  /** Pays a BOLT11 invoice that carries its amount; routing fees are capped at maxFeeMsat. */
  payInvoice(args: { paymentRequest: string; maxFeeMsat: bigint }): Promise<PaymentState> {
    return this.#payment('payInvoice', () => payInvoice(this.#payments, args));
  }

  /**
   * Where a payment stands, by hash; `undefined` when LND never saw it. No answer in time is
   * `unknown`: LND knows the payment but has no HTLC out right now, or LND is slow.
   */
  getPayment(paymentHash: string): Promise<PaymentState | undefined> {
    return this.#payment('getPayment', () => getPayment(this.#payments, paymentHash));
  }

  /** Signs with the node's key: LND's signed-message format (zbase32, recoverable). */
  async signMessage(message: string): Promise<string> {
    const { signature } = await this.#call('signMessage', () => signMessage({ lnd: this.#lnd, message }));
    return parseAnswer('signMessage', z.string().min(1), signature);
  }

  /** The pubkey that signed `message`, as LND recovers it. */
  async verifyMessage(message: string, signature: string): Promise<string> {
    const { signed_by } = await this.#call('verifyMessage', () => verifyMessage({ lnd: this.#lnd, message, signature }));
    return parseAnswer('verifyMessage', pubkey, signed_by);
  }

  /**
   * This node's outgoing payments begun at `since` or later, a page at a time: those that
   * succeeded, then those still in flight (LND lists no failed ones here, nor ones it has not sent
   * an HTLC for yet).
   */
  async *paymentsSince(since: Date): AsyncGenerator<OutgoingPayment> {
    const schema = z.object({ id: hex32, destination: z.string().optional(), mtokens: msat, fee_mtokens: msat.optional(), created_at: z.string() });
    const answer = z.object({ payments: z.array(schema), next: z.string().optional() });
    for (const [state, what, method] of [
      ['succeeded', 'getPayments', getPayments],
      ['pending', 'getPendingPayments', getPendingPayments],
    ] as const) {
      // A page of pending ones may hold none (LND filters them after paging): only the lack of a next page ends it.
      for (let token: string | undefined; ;) {
        const page = parseAnswer(
          what,
          answer,
          // Both answer unknown shapes to parseAnswer, which checks them.
          await this.#call<unknown>(what, () => method({ lnd: this.#lnd, ...(token ? { token } : { created_after: since.toISOString(), limit: pageSize }) })),
        );
        for (const p of page.payments)
          yield { paymentHash: p.id, destination: p.destination ?? null, amountMsat: p.mtokens, feeMsat: p.fee_mtokens ?? 0n, createdAt: p.created_at, state };
        if (!page.next) break;
        token = page.next;
      }
    }
  }

  /** This node's invoices made at `since` or later and settled (keysends received among them), a page at a time. */
  async *settledInvoicesSince(since: Date): AsyncGenerator<IncomingPayment> {
    const schema = z.object({
      id: hex32,
      is_confirmed: z.boolean(),
      is_push: z.boolean().optional(),
      received_mtokens: msat,
      confirmed_at: z.string().optional(),
    });
    const answer = z.object({ invoices: z.array(schema), next: z.string().optional() });
    for (let token: string | undefined; ;) {
      const page = parseAnswer(
        'getInvoices',
        answer,
        await this.#call('getInvoices', () =>
          getInvoices({ lnd: this.#lnd, ...(token ? { token } : { created_after: since.toISOString(), limit: pageSize }) }),
        ),
      );
      for (const i of page.invoices)
        if (i.is_confirmed) yield { paymentHash: i.id, receivedMsat: i.received_mtokens, settledAt: i.confirmed_at ?? null, keysend: i.is_push === true };
      if (!page.next) break;
      token = page.next;
    }
  }

  /** Spendable balance in the node's channels. */
  async getChannelBalanceMsat(): Promise<bigint> {
    const balance = await this.#call('getChannelBalance', () => getChannelBalance({ lnd: this.#lnd }));
    return parseAnswer('getChannelBalance', z.object({ channel_balance_mtokens: msat }), balance).channel_balance_mtokens;
  }

  /**
   * Whether the hub's graph has a route to `destination` for `amountMsat` within `maxFeeMsat`, with
   * the keysend record attached (as a payout would send it). No route, or a node the graph does not
   * know, is false.
   */
  async hasRoute(args: { destination: string; amountMsat: bigint; maxFeeMsat: bigint }): Promise<boolean> {
    try {
      const answer = await this.#call('getRouteToDestination', () =>
        getRouteToDestination({
          lnd: this.#lnd,
          destination: args.destination,
          mtokens: args.amountMsat.toString(),
          max_fee_mtokens: args.maxFeeMsat.toString(),
          messages: [{ type: keysendRecordType, value: '00'.repeat(32) }],
        }),
      );
      return parseAnswer('getRouteToDestination', z.object({ route: z.object({}).passthrough().optional() }), answer).route !== undefined;
    } catch (err) {
      // Unknown to the graph, or more than any route can carry.
      if (err instanceof LndError && (err.lndMessage === 'TargetNotFoundError' || err.lndMessage === 'PaymentTooLargeToFindRoute')) return false;
      throw err;
    }
  }

  /** A node as this LND's graph knows it; `undefined` when it is not in the graph. */
  async getNode(nodePubkey: string): Promise<{ alias: string; channelCount: number; keysend: boolean } | undefined> {
    try {
      const answer = await this.#call('getNode', () => getNode({ lnd: this.#lnd, public_key: nodePubkey, is_omitting_channels: true }));
      const node = parseAnswer('getNode', nodeSchema, answer);
      return { alias: node.alias, channelCount: node.channel_count, keysend: node.features.some((f) => f.bit === keysendFeatureBit) };
    } catch (err) {
      if (err instanceof LndError && err.lndMessage === 'NodeIsUnknown') return undefined;
      throw err;
    }
  }
}
