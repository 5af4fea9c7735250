/**
 * Specter's request signature (docs/specter.md, "Known"): the `key` parameter is an MD5 over the
 * API user's key, the account and the request's batchNo; API v2 accounts wrap it once more
 * with their IntegrationKey. Digests are lowercase hex, as PHP's md5() gives them.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface SpecterCredentials {
  sbmId: number;
  apiUserKey: string;
  /** Present (non-empty) → API v2 key scheme; null or "" → v1. */
  integrationKey: string | null;
}

function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** A fresh batchNo per request: 32 random hex characters. */
export function newBatchNo(): string {
  return randomBytes(16).toString('hex');
}

/**
 * v1: md5(apiUserKey + sbmId + batchNo)
 * v2: md5(integrationKey + md5(apiUserKey + sbmId + batchNo))
 */
export function computeSpecterKey(credentials: SpecterCredentials, batchNo: string): string {
  const inner = md5Hex(`${credentials.apiUserKey}${credentials.sbmId}${batchNo}`);
  // An empty IntegrationKey is treated as absent: an unset env var often arrives as "".
  return credentials.integrationKey ? md5Hex(`${credentials.integrationKey}${inner}`) : inner;
}

export function keySchemeOf(credentials: Pick<SpecterCredentials, 'integrationKey'>): 'v1' | 'v2' {
  return credentials.integrationKey ? 'v2' : 'v1';
}
