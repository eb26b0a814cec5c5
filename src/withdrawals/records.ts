// What a withdrawal is in the store and in the settle path: its record (`wd:<id>`), the view its
// supporter sees, and what is a withdrawal's own once LND's outcome is booked (its index and its
// event): `withdrawalKind`, its descriptor for payments/outgoing.ts.
import { z } from 'zod';
import { topics, type EventData } from '../events/types.ts';
import { accounts, type Ledger } from '../ledger/ledger.ts';
import { after, keys, prefixes, under } from '../ledger/keys.ts';
import type { Held, PendingKind } from '../ledger/pending.ts';
import { storedFields } from '../ledger/records.ts';
import { outgoingFields, type OutgoingKind } from '../payments/outgoing.ts';

/** A withdrawal as stored (`wd:<id>`): an outgoing payment's fields, and its own. */
export const withdrawalSchema = z.object({
  ...outgoingFields,
  supporterId: z.string().min(1),
  paymentRequest: z.string().min(1),
  feeReserveMsat: storedFields.msat,
});
export type WithdrawalRecord = z.infer<typeof withdrawalSchema>;
export type WithdrawalState = WithdrawalRecord['state'];

/** What its supporter sees of a withdrawal. */
export type WithdrawalView = Omit<WithdrawalRecord, 'supporterId' | 'paymentRequest'>;

/** A withdrawal's money: held from the supporter, posted to the outside world; a void releases all of it. */
export const withdrawalTransfers: PendingKind = { name: 'withdrawal', outside: accounts.withdrawals, voidKind: 'withdrawal.release' };

/** What a withdrawal holds: its amount and fee reserve, from its supporter. */
export const heldBy = (record: WithdrawalRecord): Held => ({
  id: record.id,
  from: accounts.supporter(record.supporterId),
  amountMsat: BigInt(record.amountMsat),
  feeReserveMsat: BigInt(record.feeReserveMsat),
  meta: { withdrawal: record.id },
});

export const withdrawalView = (record: WithdrawalRecord): WithdrawalView => {
  const { supporterId: _s, paymentRequest: _p, ...rest } = record;
  return rest;
};

/** What is a withdrawal's own in the settle path: its record, its index, its event. */
export function withdrawalKind(ledger: Ledger): OutgoingKind<WithdrawalRecord> {
  return {
    pending: withdrawalTransfers,
    schema: withdrawalSchema,
    key: keys.withdrawal,
    // Only pending withdrawals are indexed (`wdpending:`), so this reads none of the settled ones.
    pendingIds: async () => (await ledger.db.keys(under(prefixes.pendingWithdrawals)).all()).map((key) => after(prefixes.pendingWithdrawals, key)),
    held: heldBy,
    booked: (tx, record) => {
      tx.del(keys.pendingWithdrawal(record.id));
      const recipients = [topics.supporter(record.supporterId)];
      if (record.state === 'succeeded') tx.emit('withdrawal.succeeded', recipients, { ...withdrawalView(record) } satisfies EventData['withdrawal.succeeded']);
      else tx.emit('withdrawal.failed', recipients, { ...withdrawalView(record) } satisfies EventData['withdrawal.failed']);
    },
    settledLog: (record) => ({ state: record.state, feeMsat: record.feeMsat, reason: record.failureReason }),
    owner: (record) => ({ what: 'supporter', fields: { supporter: record.supporterId, amountMsat: record.amountMsat } }),
  };
}
