// The web pages' build: Preact pages (index.html, one app for every page) and the tip button for
// other sites (src/button.ts, one small module of its own at /button.js), into dist/web, which
// tipd serves (src/pages/pages.ts). No CDN: everything the pages load comes from tipd.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('../dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    // No inline scripts or data: URLs: the pages' Content-Security-Policy allows only tipd's own files.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rolldownOptions: {
      input: { pages: here('index.html'), button: here('src/button.ts') },
      output: { entryFileNames: (chunk) => (chunk.name === 'button' ? 'button.js' : 'assets/[name]-[hash].js') },
    },
  },
});
