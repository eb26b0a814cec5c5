// The pages' entry: one app for every page tipd serves, chosen by the path (src/pages/pages.ts
// serves this same document at each): `/`, `/@handle`, `/@handle/claim` and `/me`.
import { render } from 'preact';
import { AdminPage } from './admin.tsx';
import { ClaimPage } from './claim.tsx';
import { HomePage } from './home.tsx';
import { SupporterPage } from './me.tsx';
import { TipPage } from './tip.tsx';
import './style.css';

const route = /^\/@([A-Za-z0-9_]{1,15})(\/claim)?\/?$/.exec(location.pathname);
const page = /^\/admin\/?$/.test(location.pathname) ? (
  <AdminPage />
) : /^\/me\/?$/.test(location.pathname) ? (
  <SupporterPage />
) : !route ? (
  <HomePage />
) : route[2] ? (
  <ClaimPage handle={route[1]!} />
) : (
  <TipPage handle={route[1]!} />
);
render(
  <>
    <nav class="top">
      <a href="/" class="brand">
        ⚡ tipd
      </a>
      <a href="/me">Your tips</a>
    </nav>
    {page}
  </>,
  document.getElementById('app')!,
);
