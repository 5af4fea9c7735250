/**
 * The command line: commander parses the arguments and each command calls one function, loaded
 * when that command runs (`await import`): `--version`, `--help` and a usage error load commander
 * and nothing else (no zod schemas, winston, kysely, better-sqlite3 or axios), and each command
 * loads only its own modules (issue 13). Every
 * path ends in an exit code (docs/interface.md); nothing here calls process.exit(), which would drop
 * log lines winston has not written yet.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../config/errors.js';
import { JOB_STATES } from '../domain.js';
import { EXIT, UsageError, type ExitCode } from './exit.js';

/** The package's version (src/cli and dist/cli are both two levels below the package root). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

export async function main(argv: readonly string[]): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT.ok;
  let json = false;
  const done = (code: ExitCode) => {
    exitCode = code;
  };

  const program = new Command('specter-sync')
    .description('Cancels payment reservations for orders cancelled or deleted in Specter')
    .version(packageVersion())
    .exitOverride()
    .showHelpAfterError('(run specter-sync --help for usage)')
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  program
    .command('once')
    .description('run one whole cycle (poll, diff, record, dispatch, confirm), then exit')
    .option('--dry-run', 'poll and diff, but change nothing and send nothing; print what would be done')
    .option('--json', 'print the run report as one JSON document on stdout (logs go to stderr)')
    .action(async (opts: { dryRun?: boolean; json?: boolean }) => {
      json = opts.json ?? false;
      done(await (await import('./once.js')).onceCommand(opts));
    });

  program
    .command('run')
    .description('the long-running worker: a cycle on every tick of SYNC_SCHEDULE, health and metrics over HTTP')
    .action(async () => done(await (await import('./run.js')).runCommand()));

  program
    .command('status')
    .description('tracked orders, vanished orders awaiting a person, jobs by state, the last successful run')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      json = opts.json ?? false;
      done(await (await import('./status.js')).statusCommand(opts));
    });

  const vanished = program.command('vanished').description('vanished (deleted) orders awaiting a person');
  vanished
    .command('list')
    .description('vanished orders awaiting a person, with everything needed to act')
    .option('--json', 'print a JSON array')
    .action(async (opts: { json?: boolean }) => {
      json = opts.json ?? false;
      done(await (await import('./vanished.js')).vanishedListCommand(opts));
    });
  vanished
    .command('resolve')
    .description('a person has dealt with it: stop reporting it')
    .argument('<ORDER_NO>', 'the Specter order number')
    .option('--note <TEXT>', 'what was done, kept with the order')
    .action(async (orderNo: string, opts: { note?: string }) => done(await (await import('./vanished.js')).vanishedResolveCommand(orderNo, opts)));
  vanished
    .command('cancel')
    .description('a person confirms: send the cancellation to the provider')
    .argument('<ORDER_NO>', 'the Specter order number')
    .action(async (orderNo: string) => done(await (await import('./vanished.js')).vanishedCancelCommand(orderNo)));

  const jobs = program.command('jobs').description('cancellation jobs (the outbox)');
  jobs
    .command('list')
    .description('cancellation jobs')
    .addOption(new Option('--state <STATE>', 'only jobs in this state').choices(JOB_STATES))
    .option('--json', 'print a JSON array')
    .action(async (opts: { state?: string; json?: boolean }) => {
      json = opts.json ?? false;
      done(await (await import('./jobs.js')).jobsListCommand(opts));
    });
  jobs
    .command('retry')
    .description('put a failed job back in the queue (same idempotency key)')
    .argument('<JOB_ID>', 'the job id (see jobs list)')
    .action(async (jobId: string) => done(await (await import('./jobs.js')).jobsRetryCommand(jobId)));
  jobs
    .command('dismiss')
    .description('a person closes a failed job without sending anything; it stops awaiting a person')
    .argument('<JOB_ID>', 'the job id (see jobs list)')
    .requiredOption('--note <TEXT>', 'why it is closed without sending (kept with the job)')
    .action(async (jobId: string, opts: { note?: string }) => done(await (await import('./jobs.js')).jobsDismissCommand(jobId, opts)));

  program
    .command('migrate')
    .description('apply database migrations (also done automatically on start)')
    .option('--from-sqlite <PATH>', 'copy the history of this SQLite database into the empty PostgreSQL database of SYNC_DATABASE_URL')
    .action(async (opts: { fromSqlite?: string }) => done(await (await import('./migrate.js')).migrateCommand(opts)));

  program
    .command('demo')
    .description('run the real worker against the built-in sandbox on 127.0.0.1 and tell what happens; needs no configuration')
    .option('--console', 'afterwards, keep the sandbox, the worker and the operator console running until Ctrl-C (prints the URL and a token)')
    .action(async (opts: { console?: boolean }) => done(await (await import('./demo.js')).demoCommand(opts)));

  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end "with an error" of code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof ConfigError) return (await import('./context.js')).reportConfigError(error, { json });
    if (error instanceof UsageError) {
      process.stderr.write(`specter-sync: ${error.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`specter-sync: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failed;
  }
}
