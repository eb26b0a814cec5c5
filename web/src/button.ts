// The tip button for any website: `<tipd-button handle="carol">`, defined by this one module
// (loaded with `<script type="module" async>`, from tipd's own origin, a few kB, no dependency).
// It shows "Tip @carol" and the sats waiting, read from tipd (CORS), and opens the handle's tip page.
// Its styles live in its shadow root as a constructed stylesheet, which a host page's
// Content-Security-Policy does not block; without connect-src for tipd it still works, without the sum.
const origin = new URL(import.meta.url).origin;
const handlePattern = /^@?([A-Za-z0-9_]{1,15})$/;

const css = `
:host { display: inline-block; font: 600 15px/1.2 system-ui, sans-serif; }
a { display: inline-flex; gap: .5em; align-items: center; padding: .55em .9em; border-radius: 999px;
    background: #f7931a; color: #111; text-decoration: none; box-shadow: 0 1px 2px #0003; }
a:hover, a:focus-visible { background: #ffa940; outline: 2px solid #111; outline-offset: 2px; }
.sum { font-weight: 400; opacity: .85; }
`;

class TipdButton extends HTMLElement {
  static observedAttributes = ['handle'];
  readonly #root = this.attachShadow({ mode: 'open' });

  constructor() {
    super();
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    this.#root.adoptedStyleSheets = [sheet];
  }

  attributeChangedCallback() {
    this.#render();
  }

  connectedCallback() {
    this.#render();
  }

  #render() {
    const handle = handlePattern.exec(this.getAttribute('handle') ?? '')?.[1];
    this.#root.replaceChildren();
    if (!handle) return;
    const link = document.createElement('a');
    link.href = `${origin}/@${handle}`;
    link.target = '_blank';
    link.rel = 'noopener';
    link.part.add('button');
    const label = document.createElement('span');
    label.textContent = `⚡ Tip @${handle}`;
    const sum = document.createElement('span');
    sum.className = 'sum';
    link.append(label, sum);
    this.#root.append(link);
    fetch(`${origin}/v1/handles/${handle}`, { credentials: 'omit' })
      .then((res) => (res.ok ? (res.json() as Promise<{ handle: string; claimed: boolean; pendingMsat: string }>) : undefined))
      .then((view) => {
        if (!view || view.claimed || view.pendingMsat === '0') return;
        const waiting = `${(BigInt(view.pendingMsat) / 1000n).toLocaleString('en-US')} sats waiting`;
        sum.textContent = waiting;
        link.setAttribute('aria-label', `Tip @${view.handle} with Lightning: ${waiting}`);
      })
      .catch(() => undefined);
  }
}

if (!customElements.get('tipd-button')) customElements.define('tipd-button', TipdButton);
