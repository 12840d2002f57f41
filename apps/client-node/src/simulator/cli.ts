#!/usr/bin/env node
// `npm run simulate` (see `--help`): the scenario catalogue against a server.
import { runSimulateCommand } from './simulate-command.js';

process.exitCode = await runSimulateCommand(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
