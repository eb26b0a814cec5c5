// A deposit's invoice that nobody pays, on the real stack: one cancelled in LND before its time
// says `cancelled`; past its time one says `expired` (LND itself cancels an invoice then: that is no
// cancellation); neither can be paid, and each leaves the open invoices at the next start.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, lndOf, startTipd, type TipdProcess } from './helpers.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-deposits-'));
let tipd: TipdProcess | undefined;
afterAll(async () => {
  await tipd?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('an invoice nobody pays', () => {
  it('is expired after its time, cancelled if cancelled in LND before; neither is payable, and a restart closes both', { timeout: 150_000 }, async () => {
    const expirySeconds = 60;
    tipd = await startTipd({ TIPD_DEPOSIT_EXPIRY_SECONDS: String(expirySeconds) }, dataDir);
    const { token } = (await api(tipd.url, 'POST', '/v1/accounts')).body as { token: string };
    const deposit = async () => {
      const res = await api(tipd!.url, 'POST', '/v1/deposits', { token, body: { amountSat: 2_000 } });
      expect(res.status).toBe(201);
      return res.body as { id: string; paymentRequest: string; paymentHash: string; expiresAt: string };
    };
    const stateOf = async (id: string) => (await api(tipd!.url, 'GET', `/v1/deposits/${id}`, { token })).body.state as string;
    const lapsed = await deposit();
    const cancelled = await deposit();

    // The hub's operator cancels one by hand.
    await lndOf('hub').cancelInvoice(cancelled.paymentHash);
    expect((await lndOf('hub').getInvoice(cancelled.paymentHash))?.state).toBe('canceled');
    expect((await lndOf('alice').payInvoice({ paymentRequest: cancelled.paymentRequest, maxFeeMsat: 10_000n })).state).toBe('failed');

    // Restarted, tipd looks every open invoice up, and closes each as what happened to it.
    const restart = async () => {
      await tipd!.stop();
      tipd = await startTipd({ TIPD_DEPOSIT_EXPIRY_SECONDS: String(expirySeconds) }, dataDir);
      return expect.poll(() => tipd!.logs.find((line) => line.msg === 'following deposits'), { timeout: 20_000 }).toBeDefined();
    };
    await restart();
    expect(await stateOf(cancelled.id)).toBe('cancelled');
    expect(await stateOf(lapsed.id)).toBe('open');

    // Past the other's time, LND cancels it too: that is its expiry.
    await new Promise((resolve) => setTimeout(resolve, Date.parse(lapsed.expiresAt) - Date.now() + 2_000));
    expect((await lndOf('hub').getInvoice(lapsed.paymentHash))?.state).toBe('canceled');
    // (alice's node refuses to pay an expired invoice at all.)
    expect((await lndOf('alice').payInvoice({ paymentRequest: lapsed.paymentRequest, maxFeeMsat: 10_000n })).state).not.toBe('succeeded');
    await restart();
    expect(tipd.logs.find((line) => line.msg === 'following deposits')).toMatchObject({ openDepositsChecked: 1 });
    expect(await stateOf(lapsed.id)).toBe('expired');
    expect(await stateOf(cancelled.id)).toBe('cancelled');
    // Closed for good: the next start has nothing left to look up.
    await restart();
    expect(tipd.logs.find((line) => line.msg === 'following deposits')).toMatchObject({ openDepositsChecked: 0 });
  });
});
