#!/usr/bin/env node
// The `oversqlite` command (package bin). See `oversqlite --help`.
import { runCli } from './cli-app.js';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
