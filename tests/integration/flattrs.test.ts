// Flattr budgets over HTTP on the real stack: a supporter funded from alice's node sets a budget,
// flattrs handles and a tweet, and the operator closes the period.
import { describe, expect, it } from 'vitest';
import { fundedSupporter, stack, tipdForFile } from './helpers.ts';

const tipd = tipdForFile();
const { call } = tipd;
const admin = () => ({ token: stack().tipd.adminToken });

describe('flattr budgets', () => {
  it('split the monthly budget over what was flattred when the operator closes the period', async () => {
    const { token } = await fundedSupporter(tipd.url, 10_000);

    expect((await call('PUT', '/v1/budget', { token, body: { monthlyBudgetSat: 3_000 } })).body).toEqual({ monthlyBudgetSat: 3_000 });
    const suffix = Date.now().toString(36);
    const first = await call('POST', '/v1/flattrs', { token, body: { handle: `@a_${suffix}` } });
    expect(first.status).toBe(201);
    expect((await call('POST', '/v1/flattrs', { token, body: { handle: `A_${suffix}` } })).status).toBe(200);
    expect((await call('POST', '/v1/flattrs', { token, body: { handle: `b_${suffix}` } })).status).toBe(201);
    expect((await call('POST', '/v1/flattrs', { token, body: { handle: `b_${suffix}`, tweet: '1790000000000000001' } })).status).toBe(201);
    const dropped = await call('POST', '/v1/flattrs', { token, body: { handle: `c_${suffix}` } });
    expect((await call('DELETE', `/v1/flattrs/${dropped.body.id}`, { token })).status).toBe(204);
    expect((await call('GET', '/v1/flattrs', { token })).body.items).toHaveLength(3);

    const closed = await call('POST', '/v1/admin/periods/close', admin());
    expect(closed.status).toBe(200);
    expect(BigInt(closed.body.allocatedMsat)).toBeGreaterThanOrEqual(3_000_000n);

    expect((await call('GET', `/v1/handles/a_${suffix}`)).body.pendingMsat).toBe('1000000');
    expect((await call('GET', `/v1/handles/b_${suffix}`)).body.pendingMsat).toBe('2000000');
    expect((await call('GET', `/v1/handles/c_${suffix}`)).body.pendingMsat).toBe('0');
    expect((await call('GET', '/v1/account', { token })).body.balanceMsat).toBe('7000000');
    expect((await call('GET', '/v1/flattrs', { token })).body.items).toEqual([]);
  });

  it('refuse the operator close without the operator token', async () => {
    const { token } = (await call('POST', '/v1/accounts')).body;
    for (const auth of [{}, { token }, { token: 'not-the-operator-token' }]) {
      const res = await call('POST', '/v1/admin/periods/close', auth);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthorized');
    }
  });

  it('refuse a budget that is not a whole number of sats within bounds', async () => {
    const { token } = (await call('POST', '/v1/accounts')).body;
    for (const monthlyBudgetSat of [0, -1, 1.5, 100_000_001, '100']) {
      const res = await call('PUT', '/v1/budget', { token, body: { monthlyBudgetSat } });
      expect(res.status).toBe(400);
      expect(res.body.error.details.issues[0].path).toBe('monthlyBudgetSat');
    }
  });
});

describe('the operator audit', () => {
  it('shows what tipd owes next to the hub’s channel balance, and that the ledger sums to zero', async () => {
    const { token } = await fundedSupporter(tipd.url, 4_000);
    await call('POST', '/v1/tips', { token, body: { handle: 'audited', amountSat: 1_000 } });

    const audit = await call('GET', '/v1/admin/audit', admin());
    expect(audit.status).toBe(200);
    expect(audit.body.ledger).toMatchObject({ sumMsat: '0', balanced: true });
    const { supporters, escrow, inFlight, total } = audit.body.liabilitiesMsat;
    expect(BigInt(total)).toBe(BigInt(supporters) + BigInt(escrow) + BigInt(inFlight));
    expect(BigInt(escrow)).toBeGreaterThanOrEqual(1_000_000n);
    expect(BigInt(audit.body.hub.channelBalanceMsat)).toBeGreaterThan(0n);
    expect(audit.body.hub.coversLiabilities).toBe(true);
    expect((await call('GET', '/v1/admin/audit', { token })).status).toBe(401);
  });
});
