// The operator's page (/admin): the audit (what tipd owes next to what the hub holds, the ledger's
// sum) and, while winding down, what is still owed and to whom. The operator token is typed in and
// kept for this tab only (sessionStorage), sent in a header, never in a URL.
import { useEffect, useState } from 'preact/hooks';
import type { AuditView as Audit, WindDownView } from '../../src/api/views.ts';
import { call } from './api.ts';
import { explain } from './help.ts';
import { Notice, plural, sats } from './ui.tsx';

const tokenKey = 'tipd.operator';

export function AdminPage() {
  const [token, setToken] = useState(() => sessionStorage.getItem(tokenKey) ?? '');
  const [typed, setTyped] = useState('');
  const [audit, setAudit] = useState<Audit | undefined>();
  const [owed, setOwed] = useState<WindDownView | undefined>();
  const [problem, setProblem] = useState('');
  useEffect(() => {
    document.title = 'Operator · tipd';
    if (!token) return;
    Promise.all([call<Audit>('GET', '/v1/admin/audit', { token }), call<WindDownView>('GET', '/v1/admin/wind-down', { token })]).then(
      ([a, w]) => {
        setAudit(a);
        setOwed(w);
        setProblem('');
      },
      (err: unknown) => {
        sessionStorage.removeItem(tokenKey);
        setToken('');
        setProblem(explain(err));
      },
    );
  }, [token]);

  if (!token)
    return (
      <>
        <h1>Operator</h1>
        {problem && <Notice kind="error">{problem}</Notice>}
        <form
          onSubmit={(event) => {
            event.preventDefault();
            sessionStorage.setItem(tokenKey, typed.trim());
            setToken(typed.trim());
          }}
        >
          <label for="operator-token">Operator token (TIPD_ADMIN_TOKEN)</label>
          <input id="operator-token" type="password" autoComplete="off" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
          <button type="submit">Open</button>
        </form>
      </>
    );
  if (!audit || !owed) return <p class="muted">Loading…</p>;
  return (
    <>
      <h1>Operator</h1>
      {owed.state && (
        <Notice kind="info">
          Winding down since {new Date(owed.state.startedAt).toLocaleString()}: {owed.state.reason}
        </Notice>
      )}
      {audit.restored && audit.restored.resumedAt === null && (
        <Notice kind="error">
          <span id="payments-held">Restored from a backup of {new Date(audit.restored.backupTakenAt).toLocaleString()}: no payout or withdrawal is sent</span>{' '}
          until you have compared what the Lightning node paid since with the ledger (<code>GET /v1/admin/restore</code>) and resumed them (
          <code>POST /v1/admin/restore/resume</code>).
        </Notice>
      )}
      <section class="card" aria-labelledby="owed">
        <h2 id="owed">What tipd owes</h2>
        <dl class="facts">
          <dt>In all</dt>
          <dd>
            <strong id="owed-total">{sats(owed.owed.totalMsat)} sats</strong>
          </dd>
          <dt>Supporters</dt>
          <dd>
            {sats(owed.owed.supporters.totalMsat)} sats, {owed.owed.supporters.count} with a balance
          </dd>
          <dt>Escrow</dt>
          <dd>
            {sats(owed.owed.escrow.totalMsat)} sats, {plural(owed.owed.escrow.count, 'handle', 'handles')}
          </dd>
          <dt>In flight</dt>
          <dd>{sats(owed.owed.inFlightMsat)} sats</dd>
          <dt>Hub's channels</dt>
          <dd>
            {audit.hub.channelBalanceMsat === null
              ? `unknown (${audit.hub.unknownBecause ?? 'LND down'})`
              : `${sats(audit.hub.channelBalanceMsat)} sats${audit.hub.coversLiabilities ? ', covering it' : ', NOT covering it'}`}
          </dd>
          <dt>Ledger</dt>
          <dd>{audit.ledger.balanced ? 'balanced (sums to zero)' : `NOT balanced: ${audit.ledger.sumMsat} msat`}</dd>
        </dl>
      </section>
      {owed.owed.escrow.largest.length > 0 && (
        <section aria-labelledby="escrows">
          <h2 id="escrows">Escrow, largest first</h2>
          <ul class="list" id="escrow-list">
            {owed.owed.escrow.largest.map((e) => (
              <li key={e.handle}>
                <a href={`/@${e.handle}`}>@{e.handle}</a>
                <span>
                  {sats(e.amountMsat)} sats <span class="muted">{e.claimed ? 'claimed: paid out' : 'unclaimed: owed to its creator'}</span>
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {owed.owed.supporters.largest.length > 0 && (
        <section aria-labelledby="supporters">
          <h2 id="supporters">Supporters' balances, largest first</h2>
          <ul class="list">
            {owed.owed.supporters.largest.map((s) => (
              <li key={s.supporterId}>
                <code>{s.supporterId}</code>
                <span>{sats(s.balanceMsat)} sats</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      <p>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            sessionStorage.removeItem(tokenKey);
            setToken('');
          }}
        >
          Close
        </button>
      </p>
    </>
  );
}
