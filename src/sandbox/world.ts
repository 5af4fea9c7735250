/**
 * The whole sandbox at once: a simulated Specter and the four simulated providers on 127.0.0.1,
 * with made-up credentials, plus the environment that points a specter-sync process at them.
 * The demo, the end-to-end tests, the fault-injection suite and the benchmark all start this.
 * The credentials here are sandbox values, not secrets of anyone's.
 */
import { startKlarnaSandbox, type KlarnaSandbox } from './providers/klarna.js';
import { startQliroSandbox, type QliroSandbox } from './providers/qliro.js';
import { startSveaSandbox, type SveaSandbox } from './providers/svea.js';
import { startWalleySandbox, type WalleySandbox } from './providers/walley.js';
import { seedOrders } from './specter/seed.js';
import { startSpecterSandbox } from './specter/server.js';
import type { SandboxOrder, SpecterSandbox } from './specter/types.js';

export const SANDBOX_CREDENTIALS = {
  specter: { sbmId: 4711, apiUserId: 'sandbox-reader', apiUserKey: 'sandbox-specter-user-key-7f3a', integrationKey: 'sandbox-integration-key-91c2' },
  qliro: { merchantApiKey: 'sandbox-qliro-merchant-key', merchantApiSecret: 'sandbox-qliro-secret-4d7e' },
  klarna: { username: 'sandbox-klarna-user', password: 'sandbox-klarna-password-8b1f' },
  walley: { clientId: 'sandbox-walley-client', clientSecret: 'sandbox-walley-secret-2e9a', scope: 'sandbox-walley-scope/.default' },
  svea: { merchantId: 'sandbox-svea-merchant', secret: 'sandbox-svea-secret-6c0d' },
} as const;

/** Every secret value the sandbox environment carries (tests search output for them). */
export const SANDBOX_SECRETS: readonly string[] = [
  SANDBOX_CREDENTIALS.specter.apiUserKey,
  SANDBOX_CREDENTIALS.specter.integrationKey,
  SANDBOX_CREDENTIALS.qliro.merchantApiKey,
  SANDBOX_CREDENTIALS.qliro.merchantApiSecret,
  SANDBOX_CREDENTIALS.klarna.password,
  SANDBOX_CREDENTIALS.walley.clientSecret,
  SANDBOX_CREDENTIALS.svea.secret,
];

export interface SandboxWorldOptions {
  /** The Specter orders; default: `seedCount` generated orders. */
  orders?: readonly SandboxOrder[];
  seedCount?: number;
  seed?: number;
  /** Latency of every provider answer (the benchmark uses 50 ms). */
  providerLatencyMs?: number;
  /** A Qliro reversal / Walley cancel settles after this many status reads (default 1). */
  settleAfterReads?: number;
}

export interface SandboxWorld {
  specter: SpecterSandbox;
  qliro: QliroSandbox;
  klarna: KlarnaSandbox;
  walley: WalleySandbox;
  svea: SveaSandbox;
  /** Environment variables that point specter-sync at this world (no DB path, no schedule). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startSandboxWorld(options: SandboxWorldOptions = {}): Promise<SandboxWorld> {
  const c = SANDBOX_CREDENTIALS;
  const latencyMs = options.providerLatencyMs ?? 0;
  const orders = options.orders ?? seedOrders({ count: options.seedCount ?? 40, seed: options.seed ?? 1 });
  const specter = await startSpecterSandbox({ ...c.specter, orders });
  const [qliro, klarna, walley, svea] = await Promise.all([
    startQliroSandbox({ ...c.qliro, latencyMs, autoAuthorize: true, settleAfterReads: options.settleAfterReads ?? 1 }),
    startKlarnaSandbox({ ...c.klarna, latencyMs, unknownOrders: 'authorized' }),
    startWalleySandbox({ ...c.walley, latencyMs, autoAuthorize: true, cancelLagReads: options.settleAfterReads ?? 1 }),
    startSveaSandbox({ ...c.svea, latencyMs, unknownOrders: 'authorized' }),
  ]);
  const env: Record<string, string> = {
    SPECTER_BASE_URL: specter.url,
    SPECTER_SBM_ID: String(c.specter.sbmId),
    SPECTER_API_USER_ID: c.specter.apiUserId,
    SPECTER_API_USER_KEY: c.specter.apiUserKey,
    SPECTER_INTEGRATION_KEY: c.specter.integrationKey,
    // Sandboxes answer at once: keep every wait short, so a fault costs milliseconds.
    SPECTER_TIMEOUT_MS: '5000',
    SPECTER_RETRY_MIN_MS: '20',
    SPECTER_RETRY_MAX_MS: '200',
    QLIRO_BASE_URL: qliro.url,
    QLIRO_MERCHANT_API_KEY: c.qliro.merchantApiKey,
    QLIRO_MERCHANT_API_SECRET: c.qliro.merchantApiSecret,
    KLARNA_BASE_URL: klarna.url,
    KLARNA_USERNAME: c.klarna.username,
    KLARNA_PASSWORD: c.klarna.password,
    WALLEY_BASE_URL: walley.url,
    WALLEY_CLIENT_ID: c.walley.clientId,
    WALLEY_CLIENT_SECRET: c.walley.clientSecret,
    WALLEY_SCOPE: c.walley.scope,
    SVEA_BASE_URL: svea.url,
    SVEA_MERCHANT_ID: c.svea.merchantId,
    SVEA_SECRET: c.svea.secret,
    DISPATCH_RETRY_MIN_MS: '20',
    DISPATCH_RETRY_MAX_MS: '500',
    PROVIDER_TIMEOUT_MS: '5000',
  };
  // The sandbox Specter must expect the v2 key scheme, since the env sets an integration key.
  return {
    specter,
    qliro,
    klarna,
    walley,
    svea,
    env,
    close: async () => {
      await Promise.all([specter.close(), qliro.close(), klarna.close(), walley.close(), svea.close()]);
    },
  };
}
