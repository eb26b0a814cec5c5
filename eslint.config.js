// ESLint with typescript-eslint's type-aware rules, run by `npm test` after `tsc`.
//
// Why TypeScript 6.0 (package.json pins ~6.0.3): typescript-eslint needs TypeScript's JS compiler API,
// which TypeScript 7.0 (the native port) does not ship (typescript-eslint#10940; an API is expected in
// 7.1). Of the two setups that work, one TypeScript 6 for both `tsc` and ESLint is simpler than TS 7 for
// `tsc` next to an npm-aliased TS 6 for ESLint, and `tsc -p .` costs ~4 s instead of ~2 s here. Move
// back to TypeScript 7 when typescript-eslint supports it.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['node_modules/', '.tools/', '.regtest/', 'regtest/daemons/', 'data/', 'dist/'] },
  js.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The point of the lint: a promise is awaited, returned, or deliberately `void`ed and caught.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // `_`-prefixed names are deliberately unused (callback parameters, rest omissions).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Off: an `async` function without `await` is the house way to implement a promise-returning
      // interface (stubs, `async () => false`): a throw in it becomes a rejection, not a sync throw.
      '@typescript-eslint/require-await': 'off',
      // Passing a caught `unknown` on to `reject` is forwarding it, as `throw err` in a catch is
      // (which only-throw-error allows); rejecting with a string or a plain object stays an error.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // Tests and the demo are HTTP clients of tipd: they read JSON bodies as `any` on purpose and
    // assert on them, so the no-unsafe-* family (and no-explicit-any) would only flag that style.
    files: ['tests/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // This file is plain JS outside tsconfig.json: no type information for it.
    files: ['eslint.config.js'],
    languageOptions: { globals: { URL: 'readonly' } },
  },
);
