// The part of the `invoices` package (BOLT11 codec by the author of `lightning`) that tipd uses, and
// its tests (which make and sign requests offline: tests/unit/invoice-fixtures.ts).
declare module 'invoices' {
  export function parsePaymentRequest(args: { request: string }): {
    id: string;
    destination: string;
    mtokens?: string;
    expires_at: string;
    is_expired: boolean;
    network: string;
    description?: string;
    /** Hex SHA-256 of a description the invoice commits to instead of carrying it (BOLT11 `h`). */
    description_hash?: string;
  };

  export function createUnsignedRequest(args: {
    id: string;
    mtokens?: string;
    network: string;
    destination?: string;
    description?: string;
    description_hash?: string;
    created_at?: string;
    expires_at?: string;
    cltv_delta?: number;
    features: { bit: number }[];
    payment?: string;
  }): { hash: string; hrp: string; preimage: string; tags: number[] };

  export function createSignedRequest(args: { destination?: string; hrp: string; signature?: string; tags: number[] }): { request: string };
}
