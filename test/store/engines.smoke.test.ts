import { describe, expect, it } from '@jest/globals';
import os from 'node:os';
import { ENGINES, openTestStore } from '../support/postgres.js';
describe.each(ENGINES)('%s', (engine) => {
  it('opens', async () => {
    const store = await openTestStore(engine, os.tmpdir());
    const n = await store.db.selectFrom('worker_lease').selectAll().execute();
    expect(n).toHaveLength(1);
    await store.close();
  });
});
