// `npm run demo` is part of the test run: the story a newcomer runs must keep working.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../regtest/stack.ts';

describe('npm run demo', () => {
  it('walks from alice’s deposit to carol’s keysends, printing each step', async () => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'scripts/demo.ts')], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, out).toBe(0);
    for (const step of ["alice's node paid it", 'the operator closes the period', 'carol signs it with her node', 'verified', 'is forwarded', 'done']) {
      expect(out).toContain(step);
    }
    expect(out.match(/payout by keysend/g)).toHaveLength(2);
  });
});
