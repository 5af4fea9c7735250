/**
 * Svea Payment Admin API authentication: two headers on every request,
 *
 *   Timestamp:     yyyy-MM-dd HH:mm:ss  (UTC)
 *   Authorization: Svea base64(merchantId + ":" + lowercase hex(sha512(body + secret + timestamp)))
 *
 * The body is the exact bytes sent (the empty string for a GET): sign the buffer you send, never a
 * re-serialisation of it.
 */
import { createHash } from 'node:crypto';

export function sveaTimestamp(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return (
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`
  );
}

export function sveaAuthorization(merchantId: string, secret: string, body: Buffer, timestamp: string): string {
  const digest = createHash('sha512').update(body).update(Buffer.from(secret, 'utf8')).update(Buffer.from(timestamp, 'utf8')).digest('hex');
  return `Svea ${Buffer.from(`${merchantId}:${digest}`, 'utf8').toString('base64')}`;
}
