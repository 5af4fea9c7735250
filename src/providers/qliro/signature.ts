/**
 * Qliro's request signature: `Authorization: Qliro <token>`, where token is the base64 of the raw
 * 32-byte SHA-256 digest of (the exact body bytes followed by the MerchantApiSecret). GET requests
 * sign the empty string. The caller must sign the very bytes it sends: serializing twice could
 * reorder or re-escape something and the signature would no longer match.
 */
import { createHash } from 'node:crypto';

export function qliroAuthorization(bodyBytes: string | Buffer, merchantApiSecret: string): string {
  const digest = createHash('sha256')
    .update(typeof bodyBytes === 'string' ? Buffer.from(bodyBytes, 'utf8') : bodyBytes)
    .update(Buffer.from(merchantApiSecret, 'utf8'))
    .digest('base64');
  return `Qliro ${digest}`;
}
