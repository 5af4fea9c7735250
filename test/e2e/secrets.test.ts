/**
 * "Nothing secret leaves": at LOG_LEVEL=debug, on the success path and on every error path we can
 * provoke (Specter refusing the key, a provider refusing its credentials, connections reset), no
 * configured secret value appears in stdout, stderr, or the raw bytes of the database file and its
 * WAL. The search is for the values themselves (and the Basic/credential encodings that carry them),
 * not for field names, so a leak through any path fails.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { SANDBOX_CREDENTIALS, SANDBOX_SECRETS, type SandboxWorld } from '../../src/sandbox/world.js';
import { type CliResult, expectExit } from '../support/cli.js';
import { makeOrder } from '../support/orders.js';
import { useSandboxWorld, type Workspace } from '../support/world.js';

jest.setTimeout(90_000);

let world!: SandboxWorld;
const newWorkspace = useSandboxWorld((w) => (world = w));
/** Every run in this file logs at debug level: the most talkative output there is. */
const workspace = (env: Record<string, string> = {}): Workspace => newWorkspace({ LOG_LEVEL: 'debug', ...env });

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** Every form a secret could leak in: the values, and the encodings that carry them on the wire. */
function secretForms(extra: readonly string[] = []): string[] {
  const values = [...SANDBOX_SECRETS, ...extra];
  const { klarna, walley } = SANDBOX_CREDENTIALS;
  const forms = new Set<string>(values);
  forms.add(b64(`${klarna.username}:${klarna.password}`));
  forms.add(b64(`${walley.clientId}:${walley.clientSecret}`));
  for (const v of extra) {
    forms.add(b64(`${klarna.username}:${v}`));
    forms.add(encodeURIComponent(v));
  }
  for (const v of values) forms.add(encodeURIComponent(v));
  return [...forms];
}

function assertNoSecrets(ws: Workspace, runs: readonly CliResult[], extra: readonly string[] = []): void {
  const output = runs.map((r) => `${r.stdout}\n${r.stderr}`).join('\n');
  expect(output.length).toBeGreaterThan(0);
  const db = ws.rawBytes();
  expect(db.length).toBeGreaterThan(0);
  for (const secret of secretForms(extra)) {
    if (output.includes(secret)) throw new Error(`secret ${JSON.stringify(secret)} appears in the output:\n${output}`);
    expect(db.includes(Buffer.from(secret, 'utf8'))).toBe(false);
  }
}

describe('no secret in any output or in the database file, at LOG_LEVEL=debug', () => {
  it('the success path, every provider, and the query commands', async () => {
    const ws = workspace();
    const orders = [makeOrder({ method: 'K' }), makeOrder({ method: 'QL' }), makeOrder({ method: 'CL' }), makeOrder({ method: 'K' })];
    world.specter.add(...orders);
    const runs: CliResult[] = [];
    runs.push(await ws.run(['once']));
    expectExit(runs[0]!, 0);
    for (const o of orders.slice(0, 3)) world.specter.cancel(o.orderNo);
    world.specter.delete(orders[3]!.orderNo);
    runs.push(await ws.run(['once']));
    expectExit(runs[1]!, 3);
    expect(runs[1]!.events('cancel.accepted').length + runs[1]!.events('cancel.succeeded').length).toBe(3);
    runs.push(await ws.run(['once', '--json']));
    expect(runs[2]!.events('cancel.succeeded').length).toBeGreaterThanOrEqual(1);
    runs.push(await ws.run(['status', '--json']));
    runs.push(await ws.run(['jobs', 'list']));
    runs.push(await ws.run(['vanished', 'list', '--json']));
    assertNoSecrets(ws, runs);

    // The search itself works: a line carrying a secret (here Basic-encoded) is caught.
    const leaky = {
      ...runs[0]!,
      stdout: `${runs[0]!.stdout}Authorization: Basic ${b64(`${SANDBOX_CREDENTIALS.klarna.username}:${SANDBOX_CREDENTIALS.klarna.password}`)}\n`,
    };
    expect(() => assertNoSecrets(ws, [leaky])).toThrow(/appears in the output/);
  });

  it('Specter refuses the key (code 10)', async () => {
    const wrongKey = 'wrong-specter-user-key-5e5e';
    const ws = workspace({ SPECTER_API_USER_KEY: wrongKey });
    const run = await ws.run(['once']);
    expectExit(run, 1);
    expect(run.events('sync.failed')[0]).toMatchObject({ kind: 'auth' });
    // `migrate` leaves a database to search even though the run failed.
    const migrate = await ws.run(['migrate']);
    expectExit(migrate, 0);
    assertNoSecrets(ws, [run, migrate], [wrongKey]);
  });

  it('a provider refuses its credentials (wrong KLARNA_PASSWORD → cancel.failed auth)', async () => {
    const wrongPassword = 'wrong-klarna-password-c0ffee';
    const ws = workspace();
    const order = makeOrder({ method: 'K' });
    world.specter.add(order);
    const base = await ws.run(['once']);
    expectExit(base, 0);
    world.specter.cancel(order.orderNo);
    const run = await ws.run(['once'], { env: { KLARNA_PASSWORD: wrongPassword } });
    expectExit(run, 3);
    expect(run.events('cancel.failed')).toEqual([expect.objectContaining({ reason: 'auth', orderNo: order.orderNo })]);
    const jobs = await ws.run(['jobs', 'list', '--json'], { env: { KLARNA_PASSWORD: wrongPassword } });
    assertNoSecrets(ws, [base, run, jobs], [wrongPassword]);
  });

  it('transport failures: connections reset by Specter and by every provider', async () => {
    const ws = workspace({ SPECTER_MAX_ATTEMPTS: '2', DISPATCH_MAX_ATTEMPTS: '2', DISPATCH_RETRY_MIN_MS: '10', DISPATCH_RETRY_MAX_MS: '50' });
    const orders = [makeOrder({ method: 'K' }), makeOrder({ method: 'QL' }), makeOrder({ method: 'CL' })];
    world.specter.add(...orders);
    const base = await ws.run(['once']);
    expectExit(base, 0);

    world.specter.faults.add({ kind: 'reset' }, { times: Infinity });
    const specterDown = await ws.run(['once']);
    expectExit(specterDown, 1);
    world.specter.faults.clear();

    for (const o of orders) world.specter.cancel(o.orderNo);
    for (const p of [world.klarna, world.qliro, world.walley]) p.faults.add({ kind: 'reset' }, { times: Infinity });
    const providersDown = await ws.run(['once']);
    expectExit(providersDown, 3);
    expect(providersDown.events('cancel.failed').map((l) => l.reason)).toEqual(['exhausted', 'exhausted', 'exhausted']);
    assertNoSecrets(ws, [base, specterDown, providersDown]);
  });

  it('a configuration error while the secrets are set', async () => {
    const ws = workspace({ SPECTER_SBM_ID: 'not-a-number', SPECTER_BASE_URL: 'ftp://nowhere' });
    const run = await ws.run(['once']);
    expectExit(run, 2);
    const migrate = await ws.run(['migrate'], { env: { SPECTER_SBM_ID: '4711', SPECTER_BASE_URL: world.specter.url } });
    expectExit(migrate, 0);
    const output = `${run.stdout}${run.stderr}`;
    for (const secret of secretForms()) expect(output.includes(secret)).toBe(false);
  });
});
