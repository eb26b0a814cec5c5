// The home page: what tipd is, a box to find any handle, and the handles with the most sats waiting.
import { useEffect, useState } from 'preact/hooks';
import { api, type WaitingHandles } from './api.ts';
import { plural, sats } from './ui.tsx';

const handlePattern = /^@?[A-Za-z0-9_]{1,15}$/;

export function HomePage() {
  const [waiting, setWaiting] = useState<WaitingHandles['handles'] | undefined>();
  const [query, setQuery] = useState('');
  const [problem, setProblem] = useState('');
  useEffect(() => {
    document.title = 'tipd: tip anyone on X with Lightning';
    api.waiting(10).then(
      (answer) => setWaiting(answer.handles),
      () => setWaiting([]),
    );
  }, []);

  const find = (event: Event) => {
    event.preventDefault();
    const handle = query.trim();
    if (!handlePattern.test(handle)) return setProblem('An X handle is 1 to 15 letters, digits or underscores, like @satoshi.');
    location.assign(`/@${handle.replace(/^@/, '')}`);
  };

  return (
    <>
      <header class="hero">
        <h1>Tip anyone on X with Lightning</h1>
        <p>
          Pay any X handle from any Lightning wallet. The sats wait for them until they claim with one tweet, and go back to their supporters if they never do.
        </p>
      </header>
      <section aria-labelledby="find">
        <h2 id="find">Find a handle</h2>
        <form class="row" onSubmit={find} noValidate>
          <label class="visually-hidden" for="handle">
            X handle
          </label>
          <input
            id="handle"
            name="handle"
            inputMode="text"
            autoComplete="off"
            autoCapitalize="off"
            spellcheck={false}
            placeholder="@handle"
            value={query}
            aria-invalid={problem ? 'true' : undefined}
            aria-describedby={problem ? 'handle-error' : undefined}
            onInput={(e) => {
              setQuery(e.currentTarget.value);
              setProblem('');
            }}
          />
          <button type="submit">Open</button>
        </form>
        {problem && (
          <p id="handle-error" class="field-error" role="alert">
            {problem}
          </p>
        )}
      </section>
      <section aria-labelledby="waiting">
        <h2 id="waiting">Sats waiting to be claimed</h2>
        {waiting === undefined ? (
          <p class="muted">Loading…</p>
        ) : waiting.length === 0 ? (
          <p class="muted">Nothing waits yet: tip someone to start.</p>
        ) : (
          <ol class="list">
            {waiting.map((h) => (
              <li key={h.handle}>
                <a href={`/@${h.handle}`}>@{h.handle}</a>
                <span class="amount">
                  <strong>{sats(h.pendingMsat)} sats</strong>
                  <small class="muted">from {plural(h.supporters, 'supporter', 'supporters')}</small>
                </span>
              </li>
            ))}
          </ol>
        )}
      </section>
      <footer class="links">
        <a href="/me">Your tips: fund, tip, withdraw</a>
        <span aria-hidden="true"> · </span>
        <a href="/v1/openapi.json">API description (OpenAPI)</a>
        <span aria-hidden="true"> · </span>
        <a href="https://github.com/lnurl/luds">LNURL, which any wallet speaks</a>
      </footer>
    </>
  );
}
