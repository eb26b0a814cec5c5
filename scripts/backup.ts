// The operator's backup commands (README, "Backups"):
//   npm run backup                          asks the running tipd for a backup, then checks it against the live audit
//   npm run backup:check -- <backup> [url]  checks a backup (and, given tipd's URL, compares it with the live audit)
//   npm run restore -- <backup> <data dir>  restores a backup into an empty data folder (TIPD_DATA_DIR)
// tipd's URL and operator token come from TIPD_URL and TIPD_ADMIN_TOKEN, or else from the regtest
// stack's stack.json (TIPD_REGTEST_DIR, default .regtest/).
import fs from 'node:fs';
import { checkBackup, compareWithLive, type LiveAudit } from '../src/backup/check.ts';
import { BackupError, type Manifest } from '../src/backup/manifest.ts';
import { restoreBackup } from '../src/backup/restore.ts';
import type { BackupTaken } from '../src/backup/take.ts';
import { readStack, stackOptions } from '../regtest/stack.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);
const fail = (line: string): never => {
  process.stderr.write(`backup: ${line}\n`);
  process.exit(1);
};

/** tipd's URL and operator token: the environment's, or the regtest stack's. */
function tipd(url = process.env.TIPD_URL): { url: string; token: string } {
  const stack = readStack(stackOptions().dataDir);
  const token = process.env.TIPD_ADMIN_TOKEN ?? stack?.tipd.adminToken;
  url ??= stack?.tipd.url;
  if (!url || !token) return fail('set TIPD_URL and TIPD_ADMIN_TOKEN (the operator token), or run it beside a regtest stack (npm run regtest:up)');
  return { url: url.replace(/\/+$/, ''), token };
}

async function call<T>(url: string, token: string, method: string, route: string): Promise<T> {
  const res = await fetch(`${url}${route}`, { method, headers: { authorization: `Bearer ${token}` } }).catch((err: unknown) =>
    fail(`cannot reach tipd at ${url}: ${(err as Error).message}`),
  );
  const body = (await res.json().catch(() => undefined)) as (T & { error?: { code: string; message: string } }) | undefined;
  if (!res.ok) return fail(`${method} ${route}: ${res.status} ${body?.error ? `${body.error.code}: ${body.error.message}` : ''}`);
  return body as T;
}

/** Says how far a long pass has come, at most once a second. */
function progress(what: string): (keys: number) => void {
  let last = performance.now();
  return (keys) => {
    if (performance.now() - last < 1_000) return;
    last = performance.now();
    say(`  ${what}: ${keys.toLocaleString('en')} keys…`);
  };
}

function figures(m: Manifest): void {
  say(`  taken at        ${m.takenAt} (in ${m.tookMs} ms)`);
  say(`  keys            ${m.keys.toLocaleString('en')} (${(m.bytes / 1024 / 1024).toFixed(1)} MiB), SHA-256 ${m.sha256.slice(0, 16)}…`);
  say(`  last transfer   ${m.lastTransferId}, last event ${m.lastEventSeq}, LND settle index ${String(m.settleCursor)}`);
  say(
    `  owed (msat)     supporters ${m.liabilitiesMsat.supporters}, escrow ${m.liabilitiesMsat.escrow}, in flight ${m.liabilitiesMsat.inFlight}, total ${m.liabilitiesMsat.total}`,
  );
  say(`  ledger sum      ${m.ledger.sumMsat} msat (${m.ledger.balanced ? 'balanced' : 'NOT BALANCED'})`);
}

/** Checks a backup, and compares it with the live audit of the tipd at `live`; false if anything is wrong. */
async function check(backup: string, live?: { url: string; token: string }): Promise<boolean> {
  say(`checking ${backup} (on a copy)`);
  const started = performance.now();
  const report = await checkBackup(backup, progress('read'));
  figures(report.manifest);
  say(
    `  read ${report.tallied.keys.toLocaleString('en')} keys in ${Math.round(performance.now() - started)} ms: opens as tipd opens it, every balance what its transfers add up to`,
  );
  const problems = [...report.problems];
  if (live) {
    const audit = await call<LiveAudit>(live.url, live.token, 'GET', '/v1/admin/audit');
    const compared = compareWithLive(report.manifest, audit);
    for (const note of compared.notes) say(`  live: ${note}`);
    problems.push(...compared.problems);
  }
  if (problems.length === 0) say('backup OK');
  else for (const problem of problems) say(`  PROBLEM: ${problem}`);
  return problems.length === 0;
}

const [command, ...args] = process.argv.slice(2);
try {
  if (command === 'take') {
    const live = tipd();
    say(`asking tipd at ${live.url} for a backup (it keeps serving meanwhile)…`);
    const started = performance.now();
    const ticking = setInterval(() => say(`  … ${Math.round((performance.now() - started) / 1000)} s`), 2_000);
    const taken = await call<BackupTaken>(live.url, live.token, 'POST', '/v1/admin/backup').finally(() => clearInterval(ticking));
    say(`backup taken: ${taken.path}`);
    figures(taken);
    // tipd wrote it on its own machine: checked here when this is that machine.
    if (!fs.existsSync(taken.path)) say(`(${taken.path} is not on this machine: check it there with npm run backup:check)`);
    else if (!(await check(taken.path, live))) process.exit(1);
    say('keep a copy off this machine (and LND’s channel.backup with it): see README, "Backups"');
  } else if (command === 'check') {
    const [backup, url] = args;
    if (!backup) fail('usage: npm run backup:check -- <backup folder> [tipd URL to compare with the live audit]');
    const live = url || process.env.TIPD_URL ? tipd(url) : undefined;
    if (!(await check(backup!, live))) process.exit(1);
  } else if (command === 'restore') {
    const [backup, dataDir] = args;
    if (!backup || !dataDir) fail('usage: npm run restore -- <backup folder> <data folder (TIPD_DATA_DIR) without a ledger>');
    say(`restoring ${backup} into ${dataDir}`);
    const restored = await restoreBackup(backup!, dataDir!, progress('checked'));
    figures(restored.manifest);
    say(`restored and checked: ${restored.ledgerDir}`);
    say('before starting tipd on it, read README, "Backups": what was booked after the backup is not in it');
  } else {
    fail('usage: backup.ts take | check <backup> [url] | restore <backup> <data dir>');
  }
} catch (err) {
  if (!(err instanceof BackupError)) throw err;
  fail(err.message);
}
