// The creator's claim (/@handle/claim): choose where to be paid (a Lightning Address, or a node that
// signs), get the message, post it on X (signed, for a node), give the tweet's link, and watch the
// payouts arrive. Every refusal is explained with what to do next (help.ts).
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, useIdempotencyKey, type ClaimView, type HandleView, type PayoutView, type ProofOutcome } from './api.ts';
import { followHandle } from './events.ts';
import { explain } from './help.ts';
import { Copyable, Field, Notice, sats } from './ui.tsx';

type Kind = 'address' | 'node';

const pubkeyPattern = /^0[23][0-9a-fA-F]{64}$/;
const addressPattern = /^[^\s@]+@[^\s@]+$/;

export function ClaimPage({ handle }: { handle: string }) {
  const [view, setView] = useState<HandleView | undefined>();
  const [claim, setClaim] = useState<ClaimView | undefined>();
  const [outcome, setOutcome] = useState<ProofOutcome | undefined>();
  const reload = () => void api.handle(handle).then(setView, () => undefined);
  useEffect(() => {
    document.title = `Claim @${handle} · tipd`;
    reload();
  }, [handle]);
  // Once proved, the handle is claimed: what waited is on its way.
  useEffect(() => outcome && reload(), [outcome]);

  const [again, setAgain] = useState(false);
  const bound = outcome?.state === 'verified' || (view?.binding && !claim && !again);
  return (
    <>
      <header class="handle-head">
        <p>
          <a href={`/@${handle}`}>← @{view?.handle ?? handle}</a>
        </p>
        <h1>Claim @{view?.handle ?? handle}</h1>
        {view && !view.claimed && (
          <p class="waiting">
            {view.pendingMsat === '0' ? (
              'Nothing waits yet: what supporters send is paid to you once you claim.'
            ) : (
              <>
                <strong>{sats(view.pendingMsat)} sats</strong> wait for you.
              </>
            )}
          </p>
        )}
      </header>
      {bound ? null : !claim ? (
        <Destination handle={handle} onClaim={setClaim} />
      ) : !outcome ? (
        <>
          <p class="step-done">
            1. Paid to <code>{claim.lightningAddress ?? claim.nodePubkey}</code>{' '}
            <button type="button" class="link" onClick={() => setClaim(undefined)}>
              change
            </button>
          </p>
          <Proof claim={claim} onProved={setOutcome} />
        </>
      ) : null}
      {outcome?.state === 'cooling_off' && (
        <Notice kind="info">
          Proved. Another X account proved this handle before you, so yours takes effect on {new Date(outcome.binding.effectiveAt).toLocaleString()}, unless
          that account proves it again meanwhile. Payouts start then.
        </Notice>
      )}
      {bound && (
        <>
          {outcome && (
            <Notice kind="ok">
              <strong id="claimed">Claimed!</strong> What waits is being paid to you now; later tips follow as they come.
            </Notice>
          )}
          <Payouts handle={handle} onPayout={reload} />
          {!outcome && (
            <p>
              <button type="button" class="secondary" onClick={() => setAgain(true)}>
                Change where you are paid
              </button>
            </p>
          )}
        </>
      )}
    </>
  );
}

/** Step 1: where to be paid. */
function Destination({ handle, onClaim }: { handle: string; onClaim: (claim: ClaimView) => void }) {
  const [kind, setKind] = useState<Kind>('address');
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);
  // One key per thing asked: a double click, or sending again after a network error, makes one claim.
  const key = useIdempotencyKey();

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    const input = value.trim();
    if (kind === 'address' && !addressPattern.test(input)) return setProblem('A Lightning Address looks like name@wallet.com.');
    if (kind === 'node' && !pubkeyPattern.test(input)) return setProblem('A node public key is 66 hex characters starting with 02 or 03.');
    setBusy(true);
    setProblem('');
    try {
      onClaim(await api.claim(kind === 'address' ? { lightningAddress: input } : { nodePubkey: input }, handle, key.current()));
    } catch (err) {
      setProblem(explain(err));
      // A refusal is final for this input: the next try is another request.
      if (err instanceof ApiError && err.refused) key.renew();
    } finally {
      setBusy(false);
    }
  };

  const change = (next: Kind) => {
    setKind(next);
    setProblem('');
    key.renew();
  };
  return (
    <section class="card" aria-labelledby="where">
      <h2 id="where">1. Where should your sats go?</h2>
      <form onSubmit={(event) => void submit(event)} noValidate>
        <fieldset class="choice">
          <legend class="visually-hidden">Kind of destination</legend>
          <label>
            <input type="radio" name="kind" checked={kind === 'address'} onChange={() => change('address')} /> My Lightning Address
            <span class="muted">name@wallet.com, from your wallet’s receive screen (most wallets)</span>
          </label>
          <label>
            <input type="radio" name="kind" checked={kind === 'node'} onChange={() => change('node')} /> My Lightning node
            <span class="muted">a node that signs messages and takes keysend (LND, Zeus, Alby Hub)</span>
          </label>
        </fieldset>
        <Field
          id="destination"
          label={kind === 'address' ? 'Lightning Address' : 'Node public key'}
          autoComplete="off"
          autoCapitalize="off"
          spellcheck={false}
          placeholder={kind === 'address' ? 'you@wallet.com' : '02… or 03…'}
          value={value}
          problem={problem}
          onValue={(edited) => {
            setValue(edited);
            setProblem('');
            key.renew();
          }}
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Checking that tipd can pay it…' : 'Continue'}
        </button>
      </form>
    </section>
  );
}

/** Steps 2 and 3: the tweet (signed, for a node), then its link. */
function Proof({ claim, onProved }: { claim: ClaimView; onProved: (outcome: ProofOutcome) => void }) {
  const node = claim.nodePubkey !== undefined;
  const [signature, setSignature] = useState('');
  const [tweet, setTweet] = useState('');
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);
  const cleanSignature = signature.trim();
  const tweetText = node ? claim.tweetTemplate.replace('<signature>', cleanSignature || '<signature>') : claim.tweetTemplate;
  const ready = !node || /^[a-z0-9]{100,110}$/.test(cleanSignature);
  const signCommand = `lncli signmessage "${claim.message}"`;

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    if (!/^\s*(https?:\/\/\S+\/status(es)?\/\d+|\d{1,20})\S*\s*$/.test(tweet))
      return setProblem('Paste the link of your tweet, like https://x.com/you/status/123….');
    setBusy(true);
    setProblem('');
    try {
      onProved(await api.prove(claim.id, tweet.trim()));
    } catch (err) {
      setProblem(explain(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <section class="card" aria-labelledby="post">
        <h2 id="post">2. {node ? 'Sign, then post on X' : 'Post on X'}</h2>
        {node && (
          <>
            <p>Sign this message with your node’s key:</p>
            <Copyable text={claim.message} label="Message" />
            <p>
              With LND: <Copyable text={signCommand} label="Command" />
            </p>
            <p class="muted">In Zeus and Alby Hub, “Sign message” is in the node’s tools; paste the message above.</p>
            <label for="signature">The signature</label>
            <input
              id="signature"
              autoComplete="off"
              autoCapitalize="off"
              spellcheck={false}
              value={signature}
              aria-describedby="signature-help"
              onInput={(e) => setSignature(e.currentTarget.value)}
            />
            <p id="signature-help" class="muted">
              {cleanSignature && !ready ? 'That does not look like a signature: copy the whole "signature" value.' : 'It goes into the tweet.'}
            </p>
          </>
        )}
        <p>
          {node ? 'Then post' : 'Post'} this tweet from @{claim.handle}, unchanged:
        </p>
        <Copyable text={tweetText} label="Tweet" />
        <p>
          {ready ? (
            <a class="button" href={`https://x.com/intent/tweet?text=${encodeURIComponent(tweetText)}`} target="_blank" rel="noopener noreferrer">
              Post on X
            </a>
          ) : (
            <span class="muted">Paste the signature first.</span>
          )}
        </p>
        <p class="muted">This message expires {new Date(claim.expiresAt).toLocaleString()}.</p>
      </section>
      <section class="card" aria-labelledby="prove">
        <h2 id="prove">3. Give the tweet’s link</h2>
        <form onSubmit={(event) => void submit(event)} noValidate>
          <Field
            id="tweet"
            label="Link of your tweet"
            inputMode="url"
            autoComplete="off"
            placeholder="https://x.com/you/status/…"
            value={tweet}
            problem={problem}
            onValue={(edited) => {
              setTweet(edited);
              setProblem('');
            }}
          />
          <button type="submit" disabled={busy}>
            {busy ? 'Checking the tweet…' : 'Claim'}
          </button>
        </form>
      </section>
    </>
  );
}

const stateWords: Record<PayoutView['state'], string> = { pending: 'on its way', succeeded: 'paid', failed: 'failed, tried again' };

/** Step 4: the handle's payouts, live. */
function Payouts({ handle, onPayout }: { handle: string; onPayout: () => void }) {
  const [payouts, setPayouts] = useState<PayoutView[] | undefined>();
  const [note, setNote] = useState('');
  useEffect(() => {
    const load = () =>
      api.payouts(handle).then(
        (page) => setPayouts(page.payouts),
        () => undefined,
      );
    void load();
    return followHandle(handle, {
      onResync: () => void load(),
      onEvent: (event) => {
        if (event.event === 'payout.pending' || event.event === 'payout.succeeded' || event.event === 'payout.failed') {
          void load();
          onPayout();
        }
        if (event.event === 'payout.attempt_failed')
          setNote(`The last payout could not start (${event.data.reason}); tipd tries again at ${new Date(event.data.nextAttemptAt).toLocaleTimeString()}.`);
      },
    });
  }, [handle]);
  return (
    <section class="card" aria-labelledby="payouts">
      <h2 id="payouts">Payouts</h2>
      {note && <Notice kind="info">{note}</Notice>}
      {payouts === undefined ? (
        <p class="muted">Loading…</p>
      ) : payouts.length === 0 ? (
        <p class="muted">None yet: they appear here as they are sent.</p>
      ) : (
        <ul class="list" id="payout-list">
          {payouts.map((p) => (
            <li key={p.id} class={`payout ${p.state}`}>
              <span>
                <strong>{sats(p.amountMsat)} sats</strong> {p.refundOf ? 'returned to a payer' : stateWords[p.state]}
              </span>
              <span class="muted">{new Date(p.createdAt).toLocaleString()}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
