// The web pages' build: Preact pages (index.html, one app for every page) and the tip button for
// other sites (src/button.ts, one small module of its own at /button.js), into dist/web, which
// tipd serves (src/pages/pages.ts). No CDN: everything the pages load comes from tipd.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** Brotli and gzip copies of every script and stylesheet, made once here: tipd sends the one a browser takes. */
const precompressed: Plugin = {
  name: 'tipd-precompressed',
  apply: 'build',
  writeBundle(options, bundle) {
    for (const file of Object.keys(bundle).filter((name) => /\.(js|css)$/.test(name))) {
      const full = path.join(options.dir!, file);
      const bytes = fs.readFileSync(full);
      fs.writeFileSync(`${full}.br`, brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
      fs.writeFileSync(`${full}.gz`, gzipSync(bytes, { level: 9 }));
    }
  },
};

export default defineConfig({
  plugins: [precompressed],
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
