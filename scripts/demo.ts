// `npm run demo`: the whole story on the regtest stack (started if it is not running), step by
// step with balances. alice funds a budget from her node, tips and flattrs a handle, the period
// closes; carol claims the handle with a tweet signed by her node, receives the escrow by keysend,
// and a later tip is forwarded to her by itself. Its last line is a JSON summary of what it saw
// (balances, states, payouts), for tests/integration/demo.test.ts.
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Lnd } from '../src/ln/lnd.ts';
import { stackOptions, up, type Stack } from '../regtest/stack.ts';
import type { NodeName } from '../regtest/topology.ts';

const started = Date.now();
const say = (text: string) => console.log(`[demo ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${text}`);
const sat = (msat: string | bigint) =>
  `${(BigInt(msat) / 1000n).toLocaleString('en-US')}${BigInt(msat) % 1000n ? `.${(BigInt(msat) % 1000n).toString().padStart(3, '0')}` : ''} sat`;

const stack: Stack = await up(stackOptions(), (line) => console.log(line));
const node = (name: NodeName) => {
  const n = stack.nodes[name];
  return new Lnd({
    socket: n.socket,
    cert: fs.readFileSync(n.cert).toString('base64'),
    macaroon: fs.readFileSync(n.macaroon).toString('base64'),
    timeoutMs: 30_000,
  });
};
const [alice, carol] = [node('alice'), node('carol')];

async function call<T = any>(method: string, route: string, options: { token?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(`${stack.tipd.url}${route}`, { method, headers, ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }) });
  const body = (await res.json()) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${body.error?.code}: ${body.error?.message}`);
  return body;
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const handle = `carol_${randomBytes(3).toString('hex')}`;
say(`tipd ${stack.tipd.url}; the creator's handle for this run: @${handle}`);

// 1. alice funds a budget by paying an invoice from her own node.
const { token } = await call<{ id: string; token: string }>('POST', '/v1/accounts');
const deposit = await call('POST', '/v1/deposits', { token, body: { amountSat: 20_000 } });
say(`alice opens an account and asks for a deposit of 20,000 sat: ${deposit.paymentRequest.slice(0, 40)}…`);
const paid = await alice.payInvoice({ paymentRequest: deposit.paymentRequest, maxFeeMsat: 10_000n });
if (paid.state !== 'succeeded') throw new Error(`alice could not pay the deposit: ${JSON.stringify(paid)}`);
const settled = await until('the deposit to be credited', async () => {
  const view = await call('GET', `/v1/deposits/${deposit.id}`, { token });
  return view.state === 'settled' ? view : undefined;
});
const aliceFunded: string = (await call('GET', '/v1/account', { token })).balanceMsat;
say(`alice's node paid it; her tipd balance: ${sat(aliceFunded)}`);

// 2. She tips the handle, flattrs it, and the period closes.
await call('POST', '/v1/tips', { token, body: { handle: `@${handle}`, amountSat: 3_000 } });
const escrowTipped: string = (await call('GET', `/v1/handles/${handle}`)).pendingMsat;
say(`alice tips @${handle} 3,000 sat; escrow: ${sat(escrowTipped)}`);
await call('PUT', '/v1/budget', { token, body: { monthlyBudgetSat: 2_000 } });
await call('POST', '/v1/flattrs', { token, body: { handle } });
say('alice sets a monthly budget of 2,000 sat and flattrs the handle');
await fetch(`${stack.tipd.url}/v1/admin/periods/close`, { method: 'POST', headers: { authorization: `Bearer ${stack.tipd.adminToken}` } }).then((res) => {
  if (!res.ok) throw new Error(`closing the period: ${res.status}`);
});
const waiting = await call('GET', `/v1/handles/${handle}`);
const aliceClosed: string = (await call('GET', '/v1/account', { token })).balanceMsat;
say(`the operator closes the period: alice's budget goes to the handle; escrow: ${sat(waiting.pendingMsat)}, alice: ${sat(aliceClosed)}`);
say(`what a supporter can tweet to tell the creator: "${(await call('GET', `/v1/handles/${handle}/notify`)).text}"`);

// 3. carol claims it: a challenge, signed by her node, tweeted, proven.
const claim = await call('POST', '/v1/claims', { body: { handle, nodePubkey: stack.nodes.carol.pubkey } });
say(`carol asks for a challenge (claim ${claim.id}); message to sign:\n    ${claim.message}`);
const signature = await carol.signMessage(claim.message);
say(`carol signs it with her node (lncli signmessage): ${signature.slice(0, 24)}…`);
const text = claim.tweetTemplate.replace('<signature>', signature);
const posted = await fetch(`${stack.x.url}/2/tweets`, {
  method: 'POST',
  headers: { authorization: `Bearer user:${handle}`, 'content-type': 'application/json' },
  body: JSON.stringify({ text }),
});
const tweetId = ((await posted.json()) as { data: { id: string } }).data.id;
say(`carol tweets it as @${handle} on the local X server: https://x.com/${handle}/status/${tweetId}`);
const carolBefore = await carol.getChannelBalanceMsat();
const proof = await call('POST', `/v1/claims/${claim.id}/proof`, { body: { tweet: `https://x.com/${handle}/status/${tweetId}` } });
say(`tipd checks the tweet's author, time, claim id and signature: ${proof.state}; @${handle} → carol's node (X user id ${proof.binding.xUserId})`);

// 4. The escrow arrives in carol's channel by keysend.
const payoutsDone = (count: number) =>
  until(`${count} payout(s) to succeed`, async () => {
    const { payouts } = await call('GET', `/v1/payouts?handle=${handle}`);
    return payouts.filter((p: { state: string }) => p.state === 'succeeded').length >= count ? payouts : undefined;
  });
const [first] = await payoutsDone(1);
const carolReceived = (amountMsat: string, before: bigint) =>
  until("carol's channel to show it", async () => ((await carol.getChannelBalanceMsat()) - before === BigInt(amountMsat) ? true : undefined), 20_000);
await carolReceived(first.amountMsat, carolBefore);
say(
  `payout by keysend: ${sat(first.amountMsat)} sent, fee ${sat(first.feeMsat)} (cap ${sat(first.feeCapMsat)}); carol's channel balance ${sat(carolBefore)} → ${sat(await carol.getChannelBalanceMsat())}`,
);
const escrowLeft: string = (await call('GET', `/v1/handles/${handle}`)).pendingMsat;
say(`escrow left (the unused fee cap, waiting for the next payout): ${sat(escrowLeft)}`);

// 5. A later tip is forwarded by itself.
const carolMiddle = await carol.getChannelBalanceMsat();
await call('POST', '/v1/tips', { token, body: { handle, amountSat: 1_500 } });
say(`alice tips @${handle} again, 1,500 sat: the handle is claimed, so it is forwarded`);
const [second] = await payoutsDone(2);
await carolReceived(second.amountMsat, carolMiddle);
say(`payout by keysend: ${sat(second.amountMsat)}; carol's channel balance ${sat(carolMiddle)} → ${sat(await carol.getChannelBalanceMsat())}`);
const aliceLeft: string = (await call('GET', '/v1/account', { token })).balanceMsat;
say(`alice's balance: ${sat(aliceLeft)}; every payout of the handle: ${stack.tipd.url}/v1/payouts?handle=${handle}`);
say('done: the stack keeps running (npm run regtest:down stops it)');
console.log(
  JSON.stringify({
    handle,
    deposit: { state: settled.state, amountMsat: settled.amountMsat, receivedMsat: settled.receivedMsat },
    aliceMsat: { funded: aliceFunded, afterClose: aliceClosed, left: aliceLeft },
    escrowMsat: { afterTip: escrowTipped, afterClose: waiting.pendingMsat, afterFirstPayout: escrowLeft },
    claim: { state: proof.state, nodePubkey: proof.binding.nodePubkey },
    payouts: [first, second].map(({ state, amountMsat, feeMsat, feeCapMsat }) => ({ state, amountMsat, feeMsat, feeCapMsat })),
  }),
);
// The LND clients keep their gRPC channels open.
process.exit(0);
