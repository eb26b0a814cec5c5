// The supporter's app (/me): sign in with a Lightning wallet (LNURL-auth) or open an account, then
// the balance (live), one QR that funds it from any wallet, tips to any handle, and a withdraw QR
// that any wallet redeems. The token is kept in this browser's storage, never in a URL.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, useIdempotencyKey } from './api.ts';
import { followAccount } from './events.ts';
import { explain } from './help.ts';
import { Copyable, Field, Notice, Qr, sats } from './ui.tsx';

const tokenKey = 'tipd.token';

interface Account {
  id: string;
  balanceMsat: string;
  fundingLnurl: string | null;
  fundingLightning: string | null;
}

export function SupporterPage() {
  const [token, setToken] = useState<string | undefined>(() => localStorage.getItem(tokenKey) ?? undefined);
  useEffect(() => {
    document.title = 'Your tips · tipd';
  }, []);
  const signIn = (next: string) => {
    localStorage.setItem(tokenKey, next);
    setToken(next);
  };
  const signOut = () => {
    localStorage.removeItem(tokenKey);
    setToken(undefined);
  };
  return token ? <Signedin token={token} onSignOut={signOut} /> : <SignIn onToken={signIn} />;
}

/** Sign in with a wallet: its LNURL-auth QR, polled until the wallet has signed. */
function SignIn({ onToken }: { onToken: (token: string) => void }) {
  const [login, setLogin] = useState<{ id: string; lnurl: string } | undefined>();
  const [problem, setProblem] = useState('');
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const start = async () => {
      try {
        const made = await call<{ id: string; lnurl: string }>('POST', '/v1/auth/lnurl', { body: {} });
        if (stopped) return;
        setLogin(made);
        const poll = async () => {
          const state = await call<{ state: string; token?: string }>('POST', '/v1/auth/lnurl/poll', { body: { id: made.id } });
          if (stopped) return;
          if (state.token) return onToken(state.token);
          if (state.state === 'expired') return void start();
          timer = setTimeout(() => void poll().catch((err: unknown) => setProblem(explain(err))), 1000);
        };
        await poll();
      } catch (err) {
        setProblem(explain(err));
      }
    };
    void start();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);

  const open = async () => {
    try {
      onToken((await call<{ token: string }>('POST', '/v1/accounts')).token);
    } catch (err) {
      setProblem(explain(err));
    }
  };
  return (
    <>
      <h1>Your tips</h1>
      <p>Fund a budget from any Lightning wallet, tip any X handle, and withdraw what is left whenever you like.</p>
      {problem && <Notice kind="error">{problem}</Notice>}
      <section class="card" aria-labelledby="sign-in">
        <h2 id="sign-in">Sign in with your wallet</h2>
        {login ? (
          <>
            <a class="qr-link" href={`lightning:${login.lnurl}`} aria-label="Open in a wallet to sign in">
              <Qr id="login-qr" text={login.lnurl} label="QR code: sign in with a Lightning wallet (LNURL-auth)" />
            </a>
            <p class="center muted">Scan with a wallet that signs in with Lightning (LNURL-auth): no password, no email.</p>
          </>
        ) : (
          <p class="muted">Preparing…</p>
        )}
      </section>
      <p>
        No such wallet?{' '}
        <button type="button" class="link" onClick={() => void open()}>
          Open an account in this browser
        </button>{' '}
        <span class="muted">(keep its token: it is the only key to it).</span>
      </p>
    </>
  );
}

function Signedin({ token, onSignOut }: { token: string; onSignOut: () => void }) {
  const [account, setAccount] = useState<Account | undefined>();
  const [problem, setProblem] = useState('');
  const load = () =>
    call<Account>('GET', '/v1/account', { token }).then(setAccount, (err: unknown) => {
      if (err instanceof ApiError && err.code === 'unauthorized') return onSignOut();
      setProblem(explain(err));
    });
  useEffect(() => {
    void load();
    return followAccount(token, {
      onResync: () => void load(),
      onRevoked: onSignOut,
      onEvent: (event) => {
        if (['deposit.settled', 'tip.sent', 'refund', 'allocation', 'withdrawal.succeeded', 'withdrawal.failed'].includes(event.event)) void load();
      },
    });
  }, [token]);

  if (problem) return <Notice kind="error">{problem}</Notice>;
  if (!account) return <p class="muted">Loading…</p>;
  return (
    <>
      <header class="handle-head">
        <h1>Your tips</h1>
        <p class="waiting" aria-live="polite">
          Balance: <strong id="balance">{sats(account.balanceMsat)} sats</strong>
        </p>
      </header>
      {account.fundingLnurl && account.fundingLightning && (
        <section class="card" aria-labelledby="fund">
          <h2 id="fund">Add sats</h2>
          <a class="qr-link" href={account.fundingLightning} aria-label="Open in a wallet to add sats">
            <Qr id="fund-qr" text={account.fundingLnurl} label="QR code: LNURL to add sats to your balance" />
          </a>
          <p class="center muted">Scan with any wallet and choose the amount: the balance shows it once paid.</p>
        </section>
      )}
      <TipForm token={token} />
      {/* A new balance (the link redeemed, a deposit) makes a new form: a used QR is not left on screen. */}
      <Withdraw key={account.balanceMsat} token={token} balanceMsat={account.balanceMsat} />
      <details>
        <summary>Your account's token</summary>
        <p class="muted">The key to this account in this browser. Keep it secret; sign out forgets it here.</p>
        <Copyable text={token} label="Token" />
      </details>
      <p>
        <button type="button" class="secondary" onClick={onSignOut}>
          Sign out
        </button>
      </p>
    </>
  );
}

/** A tip to any handle; one idempotency key per tip asked, so a double click or a retry tips once. */
function TipForm({ token }: { token: string }) {
  const [handle, setHandle] = useState('');
  const [amount, setAmount] = useState('1000');
  /** What is wrong, next to the field it is about (or above the button, when it is about no field). */
  const [problem, setProblem] = useState<{ field: 'handle' | 'amount' | 'form'; text: string } | undefined>();
  const [done, setDone] = useState('');
  const [busy, setBusy] = useState(false);
  const key = useIdempotencyKey();
  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    const name = handle.trim().replace(/^@/, '');
    const amountSat = Number(amount);
    if (!/^[A-Za-z0-9_]{1,15}$/.test(name)) return setProblem({ field: 'handle', text: 'An X handle is 1 to 15 letters, digits or underscores.' });
    if (!Number.isSafeInteger(amountSat) || amountSat < 1) return setProblem({ field: 'amount', text: 'Enter a whole number of sats, 1 or more.' });
    setBusy(true);
    setProblem(undefined);
    setDone('');
    try {
      await call('POST', '/v1/tips', { token, body: { handle: name, amountSat }, idempotencyKey: key.current() });
      setDone(`Tipped @${name} ${amountSat.toLocaleString('en-US')} sats.`);
      key.renew();
    } catch (err) {
      const code = err instanceof ApiError ? err.code : undefined;
      setProblem({ field: code === 'invalid_handle' ? 'handle' : code === 'insufficient_balance' ? 'amount' : 'form', text: explain(err) });
      if (err instanceof ApiError && err.refused) key.renew();
    } finally {
      setBusy(false);
    }
  };
  const edit = (set: (value: string) => void) => (value: string) => {
    set(value);
    setProblem(undefined);
    key.renew();
  };
  const problemOf = (field: 'handle' | 'amount') => (problem?.field === field ? problem.text : '');
  return (
    <section class="card" aria-labelledby="tip">
      <h2 id="tip">Tip a handle</h2>
      <form onSubmit={(event) => void submit(event)} noValidate>
        <Field
          id="tip-handle"
          label="X handle"
          autoComplete="off"
          autoCapitalize="off"
          spellcheck={false}
          placeholder="@handle"
          value={handle}
          problem={problemOf('handle')}
          onValue={edit(setHandle)}
        />
        <Field id="tip-amount" label="Amount (sats)" inputMode="numeric" value={amount} problem={problemOf('amount')} onValue={edit(setAmount)} />
        {problem?.field === 'form' && <Notice kind="error">{problem.text}</Notice>}
        {done && <Notice kind="ok">{done}</Notice>}
        <button type="submit" disabled={busy}>
          {busy ? 'Tipping…' : 'Tip'}
        </button>
      </form>
    </section>
  );
}

/** A single-use LNURL-withdraw QR for what the balance covers: any wallet redeems it. */
function Withdraw({ token, balanceMsat }: { token: string; balanceMsat: string }) {
  const [link, setLink] = useState<{ lnurl: string; maxWithdrawable: number } | undefined>();
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);
  if (balanceMsat === '0' && !link) return null;
  const make = async () => {
    if (busy) return;
    setBusy(true);
    setProblem('');
    try {
      setLink(await call<{ lnurl: string; maxWithdrawable: number }>('POST', '/v1/withdrawals/lnurl', { token, body: {} }));
    } catch (err) {
      setProblem(explain(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="withdraw">
      <h2 id="withdraw">Withdraw</h2>
      {link ? (
        <>
          <a class="qr-link" href={`lightning:${link.lnurl}`} aria-label="Open in a wallet to withdraw">
            <Qr id="withdraw-qr" text={link.lnurl} label="QR code: LNURL to withdraw your balance" />
          </a>
          <p class="center muted">Scan with any wallet: up to {sats(String(link.maxWithdrawable))} sats, once.</p>
        </>
      ) : (
        <button type="button" disabled={busy} onClick={() => void make()}>
          {busy ? 'Making the QR…' : 'Withdraw to a wallet'}
        </button>
      )}
      {problem && <Notice kind="error">{problem}</Notice>}
    </section>
  );
}
