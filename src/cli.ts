#!/usr/bin/env node
/** The `specter-sync` command. The exit code is set, never forced, so every log line is written. */
import { main } from './cli/program.js';

process.exitCode = await main(process.argv);
