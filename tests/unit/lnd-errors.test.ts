// How errors thrown by `lightning` become tipd's LndError codes: a node that is down must read
// as unavailable (tipd waits, healthz says 503), never as a refusal of the request.
import { describe, expect, it } from 'vitest';
import { asLndError, LndError } from '../../src/ln/lnd.ts';

describe('LND errors', () => {
  it.each([
    { thrown: [503, 'FailedToConnectToDaemon'], code: 'lnd_unavailable' },
    { thrown: [503, 'GetWalletInfoErr', { err: { code: 14, details: 'read ECONNRESET' } }], code: 'lnd_unavailable' },
    { thrown: [503, 'UnexpectedErr', { err: { code: 4, details: 'Deadline exceeded' } }], code: 'lnd_unavailable' },
    {
      thrown: [503, 'GetWalletInfoErr', { err: { code: 2, details: 'verification failed: signature mismatch after caveat verification' } }],
      code: 'lnd_permission_denied',
    },
    { thrown: [503, 'UnexpectedErr', { err: { code: 7, details: 'permission denied' } }], code: 'lnd_permission_denied' },
    { thrown: [404, 'SentPaymentNotFound'], code: 'lnd_rejected' },
    { thrown: [409, 'InvoiceWithGivenHashAlreadyExists'], code: 'lnd_rejected' },
    { thrown: new Error('socket hang up'), code: 'lnd_unavailable' },
  ])('reads $thrown as $code', ({ thrown, code }) => {
    const error = asLndError(thrown, 'call');
    expect(error).toBeInstanceOf(LndError);
    expect((error as LndError).code).toBe(code);
    expect((error as LndError).message).toMatch(/^call: /);
  });

  it('leaves a programming error as it is, so that it surfaces as the bug it is', () => {
    const bug = new TypeError('cannot read properties of undefined');
    expect(asLndError(bug, 'call')).toBe(bug);
  });

  it('keeps the library’s own error name for callers that branch on it', () => {
    expect((asLndError([404, 'SentPaymentNotFound'], 'getPayment') as LndError).lndMessage).toBe('SentPaymentNotFound');
  });
});
