// `npm run demo`: the whole story on the regtest stack (started if it is not running), step by
// step with balances. alice funds a budget from her node, tips and flattrs a handle, the period
// closes; carol claims the handle with a tweet signed by her node, receives the escrow by keysend,
// and a later tip is forwarded to her by itself. Then a second creator, dave, who has only a
// Lightning Address: alice's node tips his handle through the handle's own LNURL (no account
// needed), dave claims it with just a tweet naming his address, and the escrow is paid there by
// LNURL-pay. Its last line is a JSON summary of what it saw (balances, states, payouts), for
// tests/integration/demo.test.ts.
import fs from 'node:fs';
import { hash, randomBytes } from 'node:crypto';
import { parsePaymentRequest } from 'invoices';
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
const [alice, carol, dave] = [node('alice'), node('carol'), node('dave')];

async function call<T = any>(method: string, route: string, options: { token?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(`${stack.tipd.url}${route}`, { method, headers, ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }) });
  const body = (await res.json()) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${body.error ? `${body.error.code}: ${body.error.message}` : JSON.stringify(body)}`);
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

/** Posts `text` as `username` on the stack's local X server; the tweet's URL. */
async function tweet(username: string, text: string): Promise<string> {
  const posted = await fetch(`${stack.x.url}/2/tweets`, {
    method: 'POST',
    headers: { authorization: `Bearer user:${username}`, 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  if (!posted.ok) throw new Error(`the X server refused the tweet: ${posted.status}`);
  return `https://x.com/${username}/status/${((await posted.json()) as { data: { id: string } }).data.id}`;
}

const handle = `carol_${randomBytes(3).toString('hex')}`;
say(`tipd ${stack.tipd.url}; the first creator's handle for this run: @${handle}`);

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
const tweetUrl = await tweet(handle, text);
say(`carol tweets it as @${handle} on the local X server: ${tweetUrl}`);
const carolBefore = await carol.getChannelBalanceMsat();
const proof = await call('POST', `/v1/claims/${claim.id}/proof`, { body: { tweet: tweetUrl } });
say(`tipd checks the tweet's author, time, claim id and signature: ${proof.state}; @${handle} → carol's node (X user id ${proof.binding.xUserId})`);

// 4. The escrow arrives in carol's channel by keysend.
const payoutsDone = (count: number, of = handle) =>
  until(`${count} payout(s) of @${of} to succeed`, async () => {
    const { payouts } = await call('GET', `/v1/payouts?handle=${of}`);
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
// 6. A second creator, dave, has no node to sign with, only a Lightning Address. Every handle is
// payable from any wallet: alice's node tips his handle through its LNURL, without her account.
const daveHandle = `dave_${randomBytes(3).toString('hex')}`;
const daveAddress = stack.lightningAddresses.find((a) => a.node === 'dave')!.address;
const daveView = await call('GET', `/v1/handles/${daveHandle}`);
say(`@${daveHandle}, not claimed yet, has a Lightning Address on tipd: ${daveView.lightningAddress} (${daveView.lnurl.slice(0, 24)}…)`);
const payRequest = await call('GET', `/.well-known/lnurlp/${daveHandle}`);
// The callback is on tipd's public https URL; the demo asks the same path over its plain http URL.
const { pr } = await call('GET', `${new URL(payRequest.callback).pathname}?amount=4000000`);
if (parsePaymentRequest({ request: pr }).description_hash !== hash('sha256', payRequest.metadata))
  throw new Error('the tip invoice does not commit to the metadata');
const lnurlTip = await alice.payInvoice({ paymentRequest: pr, maxFeeMsat: 10_000n });
if (lnurlTip.state !== 'succeeded') throw new Error(`alice could not pay the LNURL tip: ${JSON.stringify(lnurlTip)}`);
const daveEscrow: string = await until('the LNURL tip to reach the escrow', async () => {
  const { pendingMsat } = await call('GET', `/v1/handles/${daveHandle}`);
  return pendingMsat === '0' ? undefined : pendingMsat;
});
const aliceUnchanged: string = (await call('GET', '/v1/account', { token })).balanceMsat;
say(`alice's node pays 4,000 sat to that LNURL like any wallet; escrow: ${sat(daveEscrow)}; her tipd balance stays ${sat(aliceUnchanged)}`);

// 7. dave claims with just a tweet naming his address: nothing to sign.
const daveClaim = await call('POST', '/v1/claims', { body: { handle: daveHandle, lightningAddress: daveAddress } });
say(`dave claims @${daveHandle} for ${daveClaim.lightningAddress} (claim ${daveClaim.id}) and tweets, as is:\n    ${daveClaim.tweetTemplate}`);
const daveTweetUrl = await tweet(daveHandle, daveClaim.tweetTemplate);
const daveBefore = await dave.getChannelBalanceMsat();
const daveProof = await call('POST', `/v1/claims/${daveClaim.id}/proof`, { body: { tweet: daveTweetUrl } });
say(`tipd checks the tweet's author, time, claim id and address: ${daveProof.state}; @${daveHandle} → ${daveProof.binding.lightningAddress}`);

// 8. The escrow is paid to his address by LNURL-pay: an invoice from his own LNURL server.
const [davePayout] = await payoutsDone(1, daveHandle);
await until(
  "dave's channel to show it",
  async () => ((await dave.getChannelBalanceMsat()) - daveBefore === BigInt(davePayout.amountMsat) ? true : undefined),
  20_000,
);
const daveAfter = await dave.getChannelBalanceMsat();
say(
  `payout by LNURL-pay to ${davePayout.lightningAddress}: ${sat(davePayout.amountMsat)} sent, fee ${sat(davePayout.feeMsat)} (cap ${sat(davePayout.feeCapMsat)}), description hash ${davePayout.descriptionHash}; dave's channel balance ${sat(daveBefore)} → ${sat(daveAfter)}`,
);
const daveEscrowLeft: string = (await call('GET', `/v1/handles/${daveHandle}`)).pendingMsat;
say(`escrow left (the fee cap unused and the part below a whole sat): ${sat(daveEscrowLeft)}; payouts: ${stack.tipd.url}/v1/payouts?handle=${daveHandle}`);
say('done: the stack keeps running (npm run regtest:down stops it)');
console.log(
  JSON.stringify({
    handle,
    deposit: { state: settled.state, amountMsat: settled.amountMsat, receivedMsat: settled.receivedMsat },
    aliceMsat: { funded: aliceFunded, afterClose: aliceClosed, left: aliceLeft, afterLnurlTip: aliceUnchanged },
    escrowMsat: { afterTip: escrowTipped, afterClose: waiting.pendingMsat, afterFirstPayout: escrowLeft },
    claim: { state: proof.state, nodePubkey: proof.binding.nodePubkey },
    payouts: [first, second].map(({ state, amountMsat, feeMsat, feeCapMsat }) => ({ state, amountMsat, feeMsat, feeCapMsat })),
    dave: {
      handle: daveHandle,
      lnurlTip: { state: lnurlTip.state, escrowMsat: daveEscrow },
      claim: { state: daveProof.state, lightningAddress: daveProof.binding.lightningAddress },
      payouts: [davePayout].map(({ state, amountMsat, feeMsat, feeCapMsat, lightningAddress, descriptionHash }) => ({
        state,
        amountMsat,
        feeMsat,
        feeCapMsat,
        lightningAddress,
        descriptionHash,
      })),
      escrowLeftMsat: daveEscrowLeft,
      balanceMsat: { before: daveBefore.toString(), after: daveAfter.toString() },
    },
  }),
);
// The LND clients keep their gRPC channels open.
process.exit(0);
