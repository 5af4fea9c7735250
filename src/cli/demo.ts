/**
 * `specter-sync demo`: the real worker against the built-in sandbox, told as a short story
 * (src/demo/story.ts). Needs no configuration and no network beyond 127.0.0.1; ignores the
 * caller's environment (src/demo/stage.ts builds its own).
 */
import { demoOrders } from '../demo/cast.js';
import { createNarrator } from '../demo/narrate.js';
import { DemoStoryError, startStage, type DemoStage } from '../demo/stage.js';
import { tellOpening, tellStory } from '../demo/story.js';
import { EXIT, type ExitCode } from './exit.js';
import { keepConsoleUp } from './demoConsole.js';

export async function demoCommand(options: { console?: boolean } = {}): Promise<ExitCode> {
  const startedMs = Date.now();
  const out = process.stdout;
  const n = createNarrator(out);

  let stage: DemoStage;
  try {
    stage = await startStage();
  } catch (error) {
    process.stderr.write(`specter-sync demo: could not start the sandbox: ${(error as Error).message}\n`);
    return EXIT.failed;
  }

  let code: ExitCode = EXIT.ok;
  try {
    const { orders, cast, mix } = demoOrders(stage.config);
    stage.world.specter.add(...orders);
    tellOpening(n, stage, mix);
    await tellStory(n, stage, cast);
    if (options.console) await keepConsoleUp(stage, (text) => n.line(text));
  } catch (error) {
    code = EXIT.failed;
    const what = error instanceof DemoStoryError ? 'the demo went off script' : 'the demo failed';
    process.stderr.write(`\nspecter-sync demo: ${what}: ${(error as Error).message}\n`);
  }

  let closed = true;
  try {
    await stage.close();
  } catch (error) {
    closed = false;
    code = EXIT.failed;
    process.stderr.write(`specter-sync demo: could not shut the sandbox down cleanly: ${(error as Error).message}\n`);
  }
  n.line('');
  if (closed) n.line(`Sandboxes stopped and database closed after ${((Date.now() - startedMs) / 1000).toFixed(1)} s.`);
  n.line(`The worker's own log (JSON lines, the alerting interface): ${stage.logPath}`);
  // Kept, not removed: the log and the database are the best way to see what the worker did.
  n.line(`The database and the log are kept in ${stage.dir}; delete it when done: rm -r ${stage.dir}`);
  return code;
}
