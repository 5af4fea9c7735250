/**
 * The console's command-line side, as real child processes: the query commands work with only the
 * database settings, `run` refuses a console it could not serve (exit 2, naming the setting), and
 * `demo --console` stays up with a console to sign in to until SIGINT.
 */
import { describe, expect, it, jest } from '@jest/globals';
import type { SandboxWorld } from '../../src/sandbox/world.js';
import { childEnv, expectExit, runCli, startCli, waitFor } from '../support/cli.js';
import { makeOrder } from '../support/orders.js';
import { useSandboxWorld } from '../support/world.js';

jest.setTimeout(90_000);

let world!: SandboxWorld;
const workspace = useSandboxWorld((w) => (world = w));

describe('status, vanished list and jobs list need only the database', () => {
  it('with SYNC_DB_PATH alone (no Specter or provider settings) each exits 0 and reads the database', async () => {
    const ws = workspace();
    const gone = makeOrder({ method: 'K' });
    world.specter.add(gone);
    expectExit(await ws.run(['once']), 0);
    world.specter.delete(gone.orderNo);
    expectExit(await ws.run(['once']), 3);

    const onlyDb = childEnv({ SYNC_DB_PATH: ws.dbPath });
    expect(Object.keys(onlyDb).filter((k) => /^(SPECTER|KLARNA|QLIRO|WALLEY|SVEA)_/.test(k))).toEqual([]);
    const status = await runCli(['status', '--json'], { env: onlyDb, cwd: ws.dir });
    expectExit(status, 0);
    expect(JSON.parse(status.stdout)).toMatchObject({ vanishedAwaitingPerson: 1 });
    const vanished = await runCli(['vanished', 'list', '--json'], { env: onlyDb, cwd: ws.dir });
    expectExit(vanished, 0);
    expect(JSON.parse(vanished.stdout)).toEqual([expect.objectContaining({ orderNo: gone.orderNo })]);
    expectExit(await runCli(['jobs', 'list'], { env: onlyDb, cwd: ws.dir }), 0);
    expectExit(await runCli(['status'], { env: onlyDb, cwd: ws.dir }), 0);
    // What talks to Specter still needs it.
    const once = await runCli(['once'], { env: onlyDb, cwd: ws.dir });
    expectExit(once, 2);
    expect(once.events('config.invalid')[0]).toMatchObject({ setting: 'SPECTER_SBM_ID' });
  });
});

describe('run refuses a console it cannot serve', () => {
  it('a CONSOLE_TOKEN shorter than 16 characters: exit 2 naming CONSOLE_TOKEN, the value shown nowhere', async () => {
    const ws = workspace();
    const run = await ws.run(['run'], { env: { CONSOLE_TOKEN: 'too-short', HTTP_PORT: '0' } });
    expectExit(run, 2);
    expect(run.events('config.invalid')).toEqual([expect.objectContaining({ setting: 'CONSOLE_TOKEN' })]);
    expect(run.stdout + run.stderr).not.toContain('too-short');
  });

  it('CONSOLE_TOKEN with HTTP_PORT=0: exit 2 with a message naming both', async () => {
    const ws = workspace();
    const run = await ws.run(['run'], { env: { CONSOLE_TOKEN: 'a-console-token-long-enough', HTTP_PORT: '0' } });
    expectExit(run, 2);
    const invalid = run.events('config.invalid');
    expect(invalid).toEqual([expect.objectContaining({ setting: 'HTTP_PORT' })]);
    expect(invalid[0]!.message).toContain('CONSOLE_TOKEN');
    expect(run.events('worker.started')).toHaveLength(0);
    expect(run.stdout + run.stderr).not.toContain('a-console-token-long-enough');
  });
});

describe('demo --console', () => {
  it('tells the story, then serves a console to sign in to until SIGINT, and exits 0', async () => {
    const demo = startCli(['demo', '--console'], { env: childEnv({}) });
    try {
      await waitFor(() => /Sign in with the token: \S+/.test(demo.stdout()) || !demo.running, 75_000, 'the console to be up');
      const url = /The operator console is up: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(demo.stdout())?.[1];
      const token = /Sign in with the token: (\S+)/.exec(demo.stdout())?.[1];
      if (!url || !token) throw new Error(`no console URL and token in the demo's output:\n${demo.stdout()}\n${demo.stderr()}`);
      const signinPage = await fetch(url);
      expect(signinPage.status).toBe(200);
      expect(await signinPage.text()).toContain('type="password"');
      const signedIn = await fetch(`${url}signin`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
      expect(signedIn.status).toBe(303);
      const cookie = (signedIn.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      expect(await (await fetch(url, { headers: { cookie } })).text()).toContain('Vanished orders (');
      demo.signal('SIGINT');
      const result = await demo.finished(30_000);
      expectExit(result, 0);
      expect(result.stdout).toContain('SIGINT: stopping the worker and the console.');
    } finally {
      await demo.stop('SIGKILL').catch(() => undefined);
    }
  });
});
