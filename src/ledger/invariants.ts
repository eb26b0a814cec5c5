// A money invariant found broken: a bug, or a store or node that says something impossible (a
// pending record in a state it cannot be in, a payment that cost more than its cap). The ledger
// does not treat it as a refusal to retry: it writes nothing of the batch and stops tipd, loudly.
export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantViolation';
  }
}
