/**
 * The one typed configuration object, validated once at start (config/load.ts). It is derived
 * from the settings table (config/settings.ts), not restated: a setting's place in the table is
 * its place here. Each module takes only its own slice, so it can be tested with plain values.
 */
import { PROVIDER_NAMES, type ProviderName } from '../domain.js';
import type { SETTINGS } from './settings.js';
import type { ConfigOf } from './table.js';

export interface AppConfig extends ConfigOf<typeof SETTINGS> {
  /** Every configured secret value, for the logger's structural redaction. */
  secrets: string[];
}

export type SpecterSettings = AppConfig['specter'];
export type SyncSettings = AppConfig['sync'];
export type DispatchSettings = AppConfig['dispatch'];
/** A provider whose credentials are not set is off (null): its jobs wait, pending. */
export type ProviderSettings = AppConfig['providers'];
export type QliroSettings = NonNullable<ProviderSettings['qliro']>;
export type KlarnaSettings = NonNullable<ProviderSettings['klarna']>;
export type WalleySettings = NonNullable<ProviderSettings['walley']>;
export type SveaSettings = NonNullable<ProviderSettings['svea']>;
export type RoutingRule = AppConfig['routing'][number];

/** The providers whose credentials are set (the others are off: their jobs wait, pending). */
export function configuredProviders(config: Pick<AppConfig, 'providers'>): ProviderName[] {
  return PROVIDER_NAMES.filter((p) => config.providers[p] !== null);
}
