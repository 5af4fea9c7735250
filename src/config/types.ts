/**
 * The one typed configuration object, validated once at start (config/load.ts).
 * Each module takes only its own slice, so it can be tested with plain values.
 */
import { PROVIDER_NAMES, type ProviderName } from '../domain.js';

export interface SpecterSettings {
  /** Always ends with "/". */
  baseUrl: string;
  sbmId: number;
  apiUserId: string;
  apiUserKey: string;
  /** Present → API v2 key scheme; null → v1. */
  integrationKey: string | null;
  timeoutMs: number;
  maxAttempts: number;
  retryMinMs: number;
  retryMaxMs: number;
  pageSize: number;
  /** Action names: assumed (specter-api.md), so configurable. */
  actions: { listOrders: string; getOrder: string };
  /** How Specter's status fields map to ours (specter-api.md, "Status map"). */
  statusMap: { cancelledStatusIds: string[]; deliveredDeliveryStatuses: string[] };
}

export interface QliroSettings { baseUrl: string; merchantApiKey: string; merchantApiSecret: string }
export interface KlarnaSettings { baseUrl: string; username: string; password: string }
export interface WalleySettings { baseUrl: string; clientId: string; clientSecret: string; scope: string }
export interface SveaSettings { baseUrl: string; merchantId: string; secret: string }

/** A provider whose credentials are not set is off (null): its jobs wait, pending. */
export interface ProviderSettings {
  qliro: QliroSettings | null;
  klarna: KlarnaSettings | null;
  walley: WalleySettings | null;
  svea: SveaSettings | null;
  /** Timeout of one provider request. */
  requestTimeoutMs: number;
}

export interface RoutingRule {
  /** Matches when the order's payTypeIdentifier is one of these … */
  payTypeIdentifiers?: string[];
  /** … or its payTypeReference starts with this prefix (stripped to get the provider's id). */
  referencePrefix?: string;
  /**
   * `handledBySpecter`: Specter releases the payment itself (Svea); `elsewhere`: the merchant
   * settles these payments outside specter-sync, so a cancelled or vanished order stays quiet.
   */
  provider: ProviderName | 'handledBySpecter' | 'elsewhere';
  /** The provider's id must match this (e.g. Qliro's OrderId is an integer: "^[0-9]+$"). */
  providerIdPattern?: string;
}

export interface DispatchSettings {
  maxAttempts: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** An accepted job not confirmed final within this long fails with an alert. */
  confirmDeadlineMs: number;
}

export interface SyncSettings {
  dbPath: string;
  schedule: string;
  lookbackDays: number;
  vanishedAction: 'flag' | 'cancel';
  vanishGuardMaxPerRun: number;
  /** How long `run` waits for the cycle in flight after SIGTERM/SIGINT. */
  shutdownGraceMs: number;
  /** How long the single-writer lease lasts without renewal (SYNC_LEASE_TTL_MS). */
  leaseTtlMs: number;
}

export interface AppConfig {
  specter: SpecterSettings;
  sync: SyncSettings;
  dispatch: DispatchSettings;
  providers: ProviderSettings;
  routing: RoutingRule[];
  log: { level: 'debug' | 'info' | 'warn' | 'error'; format: 'json' | 'pretty' };
  http: { port: number; host: string };
  /** Every configured secret value, for the logger's structural redaction. */
  secrets: string[];
}

/** The providers whose credentials are set (the others are off: their jobs wait, pending). */
export function configuredProviders(config: Pick<AppConfig, 'providers'>): ProviderName[] {
  return PROVIDER_NAMES.filter((p) => config.providers[p] !== null);
}
