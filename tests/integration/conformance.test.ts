// The API does what its OpenAPI document says: schemathesis (an independent fuzzer, from PyPI:
// scripts/schemathesis.sh) generates requests from /v1/openapi.json against a real tipd on the
// stack, a supporter's and the operator's tokens given, and runs every check it has: no 5xx, every
// status and body as documented, bad input refused. Bounded so that it takes a few minutes.
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../regtest/stack.ts';
import { fundedSupporter, startPublicTipd, type TipdProcess } from './helpers.ts';

const schemathesis = path.join(repoRoot, '.tools/schemathesis/bin/st');
const adminToken = 'c'.repeat(40);
let tipd: TipdProcess & { publicUrl: string };
beforeAll(async () => {
  tipd = await startPublicTipd({
    TIPD_ADMIN_TOKEN: adminToken,
    TIPD_RATE_LIMIT_PER_MINUTE: '0',
    TIPD_CLAIM_RATE_LIMIT_PER_MINUTE: '0',
    TIPD_AUTH_RATE_LIMIT_PER_MINUTE: '0',
    TIPD_LNURL_RATE_LIMIT_PER_MINUTE: '0',
  });
});
afterAll(async () => {
  await tipd?.stop();
});

describe('the API against its own description', () => {
  /** Schemathesis on the operations `filter` picks, with `token`; what it printed, if it failed. */
  async function conformance(token: string, filter: string[]): Promise<{ code: number; stdout: string }> {
    const args = [
      '--config-file',
      path.join(import.meta.dirname, 'schemathesis.toml'),
      'run',
      `${tipd.url}/v1/openapi.json`,
      // Every check runs (schemathesis's default, as `--checks all`: on the command line that would
      // also switch on again the one schemathesis.toml switches off for a few operations).
      '--max-examples',
      process.env.CONFORMANCE_EXAMPLES ?? '50',
      '--generation-deterministic',
      '--phases',
      'examples,coverage,fuzzing',
      '--request-timeout',
      '20',
      // One worker: schemathesis's threads race in CPython 3.11's AST constructor (its recursion
      // depth is shared; python/cpython#106905), which hypothesis reaches when it describes a
      // strategy: a SystemError inside the fuzzer, on a different operation each time.
      '--workers',
      '1',
      '--header',
      `Authorization: Bearer ${token}`,
      ...filter,
    ];
    return promisify(execFile)(schemathesis, args, { cwd: os.tmpdir(), timeout: 540_000, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1' } }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (err: { code?: number; stdout?: string }) => ({ code: err.code ?? 1, stdout: err.stdout ?? '' }),
    );
  }

  it('passes every schemathesis check, as a supporter and anyone', { timeout: 600_000 }, async () => {
    const { token } = await fundedSupporter(tipd.url, 50_000);
    const run = await conformance(token, [
      // The operator's routes have a run of their own (below); a new token would retire the one given.
      '--exclude-path-regex',
      '^/(v1/admin/|metrics$)',
      '--exclude-path',
      '/v1/account/token',
      '--exclude-path',
      '/v1/events',
    ]);
    if (run.code !== 0) console.log(run.stdout);
    expect(run.code).toBe(0);
  });

  it("passes every schemathesis check on the operator's routes", { timeout: 600_000 }, async () => {
    // All but the wind-down, which would close this tipd for good.
    const run = await conformance(adminToken, ['--include-path-regex', '^/(v1/admin/|metrics$)', '--exclude-path', '/v1/admin/wind-down']);
    if (run.code !== 0) console.log(run.stdout);
    expect(run.code).toBe(0);
  });
});
