/** Jest globalTeardown: stops the run's PostgreSQL server (postgres-setup.ts left the way to). */
export default function stopPostgres(): void {
  (globalThis as { specterSyncStopPostgres?: () => void }).specterSyncStopPostgres?.();
}
