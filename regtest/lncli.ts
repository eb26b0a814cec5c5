// lncli for one node of the stack: the command line (also published in stack.json) and a call
// that parses its JSON answer. The stack sets itself up through lncli, as an operator would.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { NodeName } from './topology.ts';

const run = promisify(execFile);

export interface LndPaths {
  dir: string;
  socket: string;
  cert: string;
  macaroon: string;
}

/** Where a node's files are (its --lnddir under dataDir) and its gRPC socket. */
export function lndPaths(dataDir: string, name: NodeName, socket: string): LndPaths {
  const dir = path.join(dataDir, name);
  return {
    dir,
    socket,
    cert: path.join(dir, 'tls.cert'),
    macaroon: path.join(dir, 'data/chain/bitcoin/regtest/admin.macaroon'),
  };
}

function lncliArgs(p: LndPaths): string[] {
  return [`--lnddir=${p.dir}`, `--rpcserver=${p.socket}`, '--network=regtest', `--tlscertpath=${p.cert}`, `--macaroonpath=${p.macaroon}`];
}

export class Lncli {
  readonly #bin: string;
  readonly #args: string[];
  readonly name: NodeName;
  constructor(lncliPath: string, name: NodeName, paths: LndPaths) {
    this.name = name;
    this.#bin = lncliPath;
    this.#args = lncliArgs(paths);
  }

  get commandLine(): string {
    return [this.#bin, ...this.#args].join(' ');
  }

  async call<T = Record<string, unknown>>(...args: string[]): Promise<T> {
    return JSON.parse(await this.text(...args)) as T;
  }

  /** For the few commands that answer in plain text. */
  async text(...args: string[]): Promise<string> {
    try {
      const { stdout } = await run(this.#bin, [...this.#args, ...args], { timeout: 60_000, maxBuffer: 64 << 20 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`lncli ${this.name} ${args[0]}: ${(e.stderr || e.message).trim()}`, { cause: err });
    }
  }
}
