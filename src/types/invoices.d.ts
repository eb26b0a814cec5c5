// The part of the `invoices` package (BOLT11 codec by the author of `lightning`) that tipd uses.
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
}
