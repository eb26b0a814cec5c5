// tipd's Node.js settings (src/process/node-settings.ts) are written out twice where TypeScript cannot
// import them: npm start and the Docker image. Both must say the same.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../regtest/stack.ts';
import { nodeEnv, nodeFlags } from '../../src/process/node-settings.ts';

const envWords = Object.entries(nodeEnv).map(([name, value]) => `${name}=${value}`);

describe("tipd's Node.js settings", () => {
  it('npm start runs src/main.ts with exactly them', () => {
    const start = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
    const words = start.split(' ');
    const node = words.indexOf('node');
    expect(words.slice(0, envWords.length).sort()).toEqual([...envWords].sort());
    expect(words.slice(node + 1)).toEqual([...nodeFlags, 'src/main.ts']);
  });

  it('the Docker image runs src/main.ts with exactly them', () => {
    const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    const cmd = JSON.parse(/^CMD (.*)$/m.exec(dockerfile)![1]!) as string[];
    expect(cmd).toEqual(['node', ...nodeFlags, 'src/main.ts']);
    for (const word of envWords) expect(dockerfile).toMatch(new RegExp(`^ENV ${word}$`, 'm'));
  });
});
