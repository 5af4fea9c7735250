/**
 * Kysely's runtime, loaded through its CommonJS build. Kysely's ESM build is 263 files, and
 * Node 20's ESM loader takes ~2× as long as require() to load that many (measured: ~250 ms
 * against ~135 ms on this machine), which every `once` started by cron pays before its first
 * query (issue 13). Every value from kysely in src/ comes from here, so the process holds ONE
 * instance of its classes; the types are the package's own (`import type … from 'kysely'`).
 */
import { createRequire } from 'node:module';
import type * as KyselyModule from 'kysely';

const kysely = createRequire(import.meta.url)('kysely') as typeof KyselyModule;

export const { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } = kysely;
