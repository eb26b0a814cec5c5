// A handle's tip page (/@handle): what waits for it and from how many, its claim's evidence, its
// LNURL as a QR and its Lightning Address for any wallet, an invoice for wallets that only scan
// invoices, the latest tips live, a button to tell the creator, and the tip button for other sites.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, invoiceFrom, payRequestOf, verified, type HandleView, type NotifyView, type PayRequest } from './api.ts';
import { followHandle, type HandleEvent } from './events.ts';
import { explain } from './help.ts';
import { Copyable, Field, Notice, plural, Qr, sats } from './ui.tsx';

const presetsSat = [100, 1_000, 5_000, 21_000];
const recentMax = 10;

interface RecentTip {
  seq: number;
  amountMsat: string;
  comment?: string | undefined;
  from?: string | undefined;
  at: string;
}

export function TipPage({ handle }: { handle: string }) {
  const [view, setView] = useState<HandleView | undefined>();
  const [problem, setProblem] = useState('');
  const [recent, setRecent] = useState<RecentTip[]>([]);
  const [notify, setNotify] = useState<NotifyView | undefined>();
  const tipped = useRef<() => void>(() => {});

  const load = () =>
    api.handle(handle).then(
      (answer) => {
        setView(answer);
        document.title = `Tip @${answer.handle} · tipd`;
        if (!answer.claimed && answer.pendingMsat !== '0') api.notify(handle).then(setNotify, () => setNotify(undefined));
      },
      (err: unknown) => setProblem(explain(err)),
    );

  useEffect(() => {
    void load();
    return followHandle(handle, {
      onResync: () => void load(),
      onEvent: (event: HandleEvent) => {
        switch (event.event) {
          case 'handle.tipped':
            setRecent((list) => [{ seq: event.seq, at: event.at, ...event.data }, ...list].slice(0, recentMax));
            setView((v) => v && { ...v, pendingMsat: event.data.pendingMsat });
            tipped.current();
            break;
          case 'handle.allocated':
          case 'handle.refunded':
            setView((v) => v && { ...v, pendingMsat: event.data.pendingMsat });
            break;
          case 'claim.verified':
          case 'claim.cooling_off':
          case 'payout.succeeded':
            void load();
            break;
        }
      },
    });
  }, [handle]);

  if (problem) return <Notice kind="error">{problem}</Notice>;
  if (!view) return <p class="muted">Loading @{handle}…</p>;
  return (
    <>
      <header class="handle-head">
        <h1>@{view.handle}</h1>
        <p class="waiting" aria-live="polite">
          {view.claimed ? (
            <>Claimed: tips are forwarded to the creator as they come.</>
          ) : view.pendingMsat === '0' ? (
            <>No sats wait yet: be the first to tip.</>
          ) : (
            <>
              <strong id="waiting-sats">{sats(view.pendingMsat)} sats</strong> waiting
              {/* Payers by LNURL who gave no Lightning Address are tips, not known supporters. */}
              {view.supporters > 0 ? ` from ${plural(view.supporters, 'supporter', 'supporters')}` : ` from ${plural(view.tips, 'tip', 'tips')}`}
            </>
          )}
        </p>
      </header>
      <section aria-labelledby="pay" class="card">
        <h2 id="pay">Tip with any Lightning wallet</h2>
        {view.lightning && view.lnurl ? (
          <>
            <a class="qr-link" href={view.lightning} aria-label={`Open in a wallet: tip @${view.handle}`}>
              <Qr id="lnurl-qr" text={view.lnurl} label={`QR code: LNURL to tip @${view.handle}`} />
            </a>
            <p class="center">
              <a class="button" href={view.lightning}>
                Open in wallet
              </a>
            </p>
            {view.lightningAddress && <Copyable text={view.lightningAddress} label="Lightning Address" />}
          </>
        ) : (
          <Notice kind="info">This tipd has no public address for wallets yet (its operator sets TIPD_PUBLIC_URL).</Notice>
        )}
      </section>
      {view.lnurl && <InvoiceForm handle={view.handle} tipped={tipped} />}
      <section aria-labelledby="recent">
        <h2 id="recent">Latest tips</h2>
        {recent.length === 0 ? (
          <p class="muted">New tips appear here as they arrive.</p>
        ) : (
          <ul class="list" id="recent-tips">
            {recent.map((tip) => (
              <li key={tip.seq}>
                <span>
                  ⚡ <strong>{sats(tip.amountMsat)} sats</strong>
                  {tip.from && <span class="muted"> from {tip.from}</span>}
                </span>
                {tip.comment && <q>{tip.comment}</q>}
              </li>
            ))}
          </ul>
        )}
      </section>
      {view.binding ? <Evidence view={view} /> : <ClaimInvite view={view} notify={notify} />}
      <ButtonSnippet handle={view.handle} />
    </>
  );
}

/** How far this device's clock may run ahead of tipd's. */
const clockSlackMs = 5 * 60_000;

/** Amount presets, a custom amount and a comment: an invoice QR, then "paid" as soon as it is. */
function InvoiceForm({ handle, tipped }: { handle: string; tipped: { current: () => void } }) {
  const [amount, setAmount] = useState('1000');
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState('');
  const [invoice, setInvoice] = useState<{ pr: string; verify: string; amountSat: number } | undefined>();
  const [paid, setPaid] = useState(false);
  const [expired, setExpired] = useState(false);
  const [payRequest, setPayRequest] = useState<PayRequest | undefined>();
  useEffect(() => {
    payRequestOf(handle).then(setPayRequest, (err: unknown) => setProblem(explain(err)));
  }, [handle]);
  const minSat = Math.ceil((payRequest?.minSendable ?? 1000) / 1000);
  const maxSat = payRequest ? Math.floor(payRequest.maxSendable / 1000) : undefined;
  const commentMax = payRequest?.commentAllowed ?? 0;

  // Paid: asked every second, and at once when the handle's followers hear of a tip; no more once
  // the invoice has expired.
  useEffect(() => {
    if (!invoice || paid || expired) return;
    let done = false;
    const check = () =>
      void verified(invoice.verify).then(
        (answer) => {
          if (done) return;
          if (answer.settled) setPaid(true);
          // By this device's clock, with some minutes to spare: a phone running fast must not stop too soon.
          else if (Date.now() >= Date.parse(answer.expiresAt) + clockSlackMs) setExpired(true);
        },
        () => undefined,
      );
    tipped.current = check;
    const timer = setInterval(check, 1000);
    return () => {
      done = true;
      clearInterval(timer);
      tipped.current = () => {};
    };
  }, [invoice, paid, expired]);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy || !payRequest) return;
    const amountSat = Number(amount);
    if (!Number.isSafeInteger(amountSat) || amountSat < minSat) return setProblem(`Enter a whole number of sats, ${minSat} or more.`);
    if (maxSat !== undefined && amountSat > maxSat) return setProblem(`At most ${maxSat.toLocaleString('en-US')} sats in one payment.`);
    setBusy(true);
    setProblem('');
    try {
      const made = await invoiceFrom(payRequest, amountSat, comment.trim());
      setInvoice({ pr: made.pr, verify: made.verify, amountSat });
      setPaid(false);
      setExpired(false);
    } catch (err) {
      setProblem(explain(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="invoice" class="card">
      <h2 id="invoice">Or pay an invoice</h2>
      {invoice ? (
        paid ? (
          <Notice kind="ok">
            <strong id="paid">Paid — thank you!</strong> {invoice.amountSat.toLocaleString('en-US')} sats are on their way to @{handle}.
          </Notice>
        ) : expired ? (
          <Notice kind="info">
            <span id="expired">This invoice expired before it was paid.</span> Make another below.
          </Notice>
        ) : (
          <>
            <a class="qr-link" href={`lightning:${invoice.pr}`} aria-label="Open the invoice in a wallet">
              <Qr id="invoice-qr" text={invoice.pr.toUpperCase()} label={`QR code: invoice of ${invoice.amountSat} sats`} />
            </a>
            <p class="center muted" role="status">
              Waiting for the payment of {invoice.amountSat.toLocaleString('en-US')} sats…
            </p>
            <Copyable text={invoice.pr} label="Invoice" />
          </>
        )
      ) : null}
      <form onSubmit={(event) => void submit(event)} noValidate>
        <fieldset class="presets">
          <legend>Amount (sats)</legend>
          {presetsSat.map((preset) => (
            <button
              type="button"
              key={preset}
              class={Number(amount) === preset ? 'chosen' : 'secondary'}
              aria-pressed={Number(amount) === preset}
              onClick={() => setAmount(String(preset))}
            >
              {preset.toLocaleString('en-US')}
            </button>
          ))}
        </fieldset>
        <Field
          id="amount"
          label="Custom amount"
          hint={maxSat !== undefined && `${minSat.toLocaleString('en-US')} to ${maxSat.toLocaleString('en-US')} sats`}
          inputMode="numeric"
          value={amount}
          problem={problem}
          onValue={(edited) => {
            setAmount(edited.replace(/[^\d]/g, ''));
            setProblem('');
          }}
        />
        {commentMax > 0 && (
          <>
            <label for="comment">Comment (optional)</label>
            <input id="comment" maxLength={commentMax} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
          </>
        )}
        <button type="submit" disabled={busy || !payRequest}>
          {busy ? 'Making the invoice…' : invoice ? 'Make another invoice' : 'Make an invoice'}
        </button>
      </form>
    </section>
  );
}

/** A claimed handle: where it is paid and the proof, for anyone to check again. */
function Evidence({ view }: { view: HandleView }) {
  const binding = view.binding!;
  const tweetUrl = `https://x.com/${binding.xUsername}/status/${binding.tweetId}`;
  return (
    <section aria-labelledby="evidence" class="card">
      <h2 id="evidence">Claimed by @{binding.xUsername}</h2>
      <dl class="facts">
        <dt>Proof</dt>
        <dd>
          <a href={tweetUrl} rel="noopener noreferrer" target="_blank">
            the tweet
          </a>{' '}
          of {new Date(binding.tweetAt).toLocaleString()}
        </dd>
        <dt>Paid to</dt>
        <dd>{binding.lightningAddress ? <code>{binding.lightningAddress}</code> : <code class="break">{binding.nodePubkey}</code>}</dd>
        <dt>Verified</dt>
        <dd>{new Date(binding.verifiedAt).toLocaleString()}</dd>
      </dl>
      <details>
        <summary>Check it yourself</summary>
        <p>The signed message, and the proof the tweet carried:</p>
        <Copyable text={binding.message} label="Message" />
        <Copyable text={binding.signature} label={binding.nodePubkey ? 'Signature' : 'Address'} />
        {binding.nodePubkey && (
          <p class="muted">
            Check with <code>lncli verifymessage --msg "…" --sig …</code>: it must name the node above.
          </p>
        )}
      </details>
      {view.pendingBinding && (
        <Notice kind="info">
          Another X account proved this handle: it takes over on {new Date(view.pendingBinding.effectiveAt).toLocaleString()} unless @{binding.xUsername} proves
          it again.
        </Notice>
      )}
      <p>
        <a href={`/@${view.handle}/claim`}>Payouts and claim</a>
      </p>
    </section>
  );
}

/** An unclaimed handle: its creator may claim; a supporter may tell them. */
function ClaimInvite({ view, notify }: { view: HandleView; notify: NotifyView | undefined }) {
  return (
    <section aria-labelledby="claim" class="card">
      <h2 id="claim">Are you @{view.handle}?</h2>
      <p>Claim what waits with one tweet, to your Lightning Address or your node. Later tips are forwarded as they come.</p>
      <p class="row">
        <a class="button" href={`/@${view.handle}/claim`}>
          Claim your sats
        </a>
        {notify && (
          <a class="button secondary" href={notify.intentUrl} target="_blank" rel="noopener noreferrer">
            Tell @{view.handle} on X
          </a>
        )}
      </p>
    </section>
  );
}

/** The tip button for any website, to copy. */
function ButtonSnippet({ handle }: { handle: string }) {
  const snippet = `<script type="module" src="${location.origin}/button.js" async></script>\n<tipd-button handle="${handle}"></tipd-button>`;
  return (
    <section aria-labelledby="snippet">
      <h2 id="snippet">Put a tip button on your site</h2>
      <p class="muted">A few kB, loaded without slowing your page; it shows the sats waiting and opens this page.</p>
      <Copyable text={snippet} label="Snippet" />
    </section>
  );
}
