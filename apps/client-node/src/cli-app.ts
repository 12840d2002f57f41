/**
 * The `oversqlite` command line: sign in against the reference app, then sync, push, pull, watch,
 * hydrate or show the status of one SQLite file. `cli.ts` runs it; specs call `runCli` directly.
 */
import { JSON_CONTENT_TYPE } from '@oversync/protocol';
import Database from 'better-sqlite3';
import { parseArgs } from 'node:util';
import type { AttachResult, RestoreSummary, SyncStatus } from './results.js';
import { existsSync } from 'node:fs';
import { isCorruptionError, verifyDatabaseIntegrity } from './database-integrity.js';
import { DatabaseCorruptError, errorMessage } from './errors.js';
import { EXAMPLE_DEVICE_DDL, EXAMPLE_SCHEMA_NAME, EXAMPLE_TABLES } from './example-schema.js';
import { OversqliteClient } from './oversqlite-client.js';
import { type ProgressStream, ProgressReporter } from './progress-reporter.js';
import { describeTransportFailure, type FetchLike, sleep } from './sync-transport.js';

export interface CliIo {
  readonly stdout: ProgressStream;
  readonly stderr: ProgressStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly fetch?: FetchLike;
  /** Ends `watch` (default: SIGINT/SIGTERM). */
  readonly stopSignal?: AbortSignal;
}

export const USAGE = `Usage: oversqlite <command> --db <file> [options]

Commands:
  signin     print a bearer token from the reference app (POST /dummy-signin)
  sync       push local changes, then pull to the stable sequence
  push       push local changes
  pull       pull to the stable sequence
  status     show source, binding and pending rows (no network)
  watch      follow GET /sync/watch and pull on every change until Ctrl-C
  hydrate    replace the managed tables by a server snapshot
  verify     check the database file with SQLite's quick_check (no network)

Options:
  --db <file>        SQLite database file (created if missing)
  --server <url>     server base URL (default $OVERSYNC_URL or http://localhost:8080)
  --user <id>        user to sign in as (default $OVERSYNC_USER)
  --password <pw>    password for /dummy-signin (default "password")
  --token <jwt>      bearer token to use instead of signing in (default $OVERSYNC_TOKEN)
  --schema <name>    server schema (default business)
  --tables <list>    managed tables, comma separated, key column "id" (default: the reference app's tables)
  --example-schema   create the reference app's tables in the database if they are missing
  --skip-check       do not run quick_check when opening the database (large files)
  --json             print the result as JSON
  --help             show this help
`;

const COMMANDS = new Set(['signin', 'sync', 'push', 'pull', 'status', 'watch', 'hydrate', 'verify']);
/** The reference app's tokens live 5 minutes; sign in again a minute before. */
const TOKEN_REFRESH_MS = 4 * 60_000;

class UsageError extends Error {}

interface CliOptions {
  command: string;
  db: string;
  server: string;
  user: string;
  password: string;
  token: string;
  schema: string;
  tables: string[] | null;
  exampleSchema: boolean;
  skipCheck: boolean;
  json: boolean;
}

/** Runs one command; resolves to the process exit code (0 ok, 1 failure, 2 usage). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let options: CliOptions;
  try {
    const parsed = parseCliArgs(argv, io.env);
    if (parsed === 'help') {
      io.stdout.write(USAGE);
      return 0;
    }
    options = parsed;
  } catch (err) {
    io.stderr.write(`${errorMessage(err)}\n\n${USAGE}`);
    return 2;
  }
  const fetchImpl = io.fetch ?? ((input: string, init: RequestInit) => fetch(input, init));
  try {
    if (options.command === 'signin') {
      io.stdout.write(`${await signIn(fetchImpl, options)}\n`);
      return 0;
    }
    if (options.command === 'verify') return verifyCommand(options, io);
    return await runDatabaseCommand(options, io, fetchImpl);
  } catch (err) {
    if (isCorruptionError(err)) {
      io.stderr.write(
        `oversqlite ${options.command}: the database file ${options.db} is corrupt (${corruptionDetail(err)}` +
          `); restore it from a backup, or delete it and run \`oversqlite hydrate\` (unsynced changes in it are ` +
          `lost)\n`,
      );
      return 1;
    }
    io.stderr.write(`oversqlite ${options.command}: ${errorMessage(err)}\n`);
    return 1;
  }
}

function parseCliArgs(argv: readonly string[], env: CliIo['env']): CliOptions | 'help' {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      db: { type: 'string' },
      server: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      token: { type: 'string' },
      schema: { type: 'string' },
      tables: { type: 'string' },
      'example-schema': { type: 'boolean' },
      'skip-check': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || positionals.length === 0) return 'help';
  const command = positionals[0]!;
  if (!COMMANDS.has(command) || positionals.length > 1)
    throw new UsageError(`unknown command ${JSON.stringify(positionals.join(' '))}`);
  const options: CliOptions = {
    command,
    db: values.db ?? '',
    server: values.server ?? env.OVERSYNC_URL ?? 'http://localhost:8080',
    user: values.user ?? env.OVERSYNC_USER ?? '',
    password: values.password ?? 'password',
    token: values.token ?? env.OVERSYNC_TOKEN ?? '',
    schema: values.schema ?? EXAMPLE_SCHEMA_NAME,
    tables: values.tables
      ? values.tables
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean)
      : null,
    exampleSchema: values['example-schema'] ?? false,
    skipCheck: values['skip-check'] ?? false,
    json: values.json ?? false,
  };
  if (command !== 'signin' && !options.db) throw new UsageError('--db <file> is required');
  const subject = options.token ? tokenSubject(options.token) : null;
  if (subject !== null && !options.user) options.user = subject;
  if (subject !== null && options.user && subject !== options.user) {
    throw new UsageError(
      `--user ${options.user} does not match the token, which is for user ${subject}; drop --user or use a ` +
        `token of ${options.user}`,
    );
  }
  if (command !== 'status' && command !== 'verify' && !options.user)
    throw new UsageError('--user <id> is required (or set OVERSYNC_USER)');
  return options;
}

/** The `sub` claim of a JWT (read, not verified: the server verifies), or null when the token is not a JWT. */
function tokenSubject(token: string): string | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof claims.sub === 'string' ? claims.sub : null;
  } catch {
    return null;
  }
}

async function signIn(fetchImpl: FetchLike, options: CliOptions): Promise<string> {
  const url = `${options.server.replace(/\/+$/, '')}/dummy-signin`;
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'Content-Type': JSON_CONTENT_TYPE },
      body: JSON.stringify({ user: options.user, password: options.password }),
    });
  } catch (err) {
    throw new Error(`sign-in at ${url} failed: ${describeTransportFailure(err)}`, { cause: err });
  }
  const body = await response.text();
  if (response.status !== 200) throw new Error(`sign-in failed with status ${response.status}: ${body.trim()}`);
  const token = (JSON.parse(body) as { token?: unknown }).token;
  if (typeof token !== 'string' || !token) throw new Error('sign-in response has no token');
  return token;
}

function tokenProvider(fetchImpl: FetchLike, options: CliOptions): () => Promise<string> {
  if (options.token) return async () => options.token;
  let cached: { token: string; at: number } | null = null;
  return async () => {
    if (!cached || Date.now() - cached.at > TOKEN_REFRESH_MS)
      cached = { token: await signIn(fetchImpl, options), at: Date.now() };
    return cached.token;
  };
}

/** `verify`: quick_check of an existing file; exit 1 with the problems when it is damaged. */
function verifyCommand(options: CliOptions, io: CliIo): number {
  if (!existsSync(options.db)) throw new Error(`database file ${options.db} does not exist`);
  const db = new Database(options.db, { readonly: true });
  try {
    verifyDatabaseIntegrity(db);
  } finally {
    db.close();
  }
  if (options.json) io.stdout.write(`${JSON.stringify({ db: options.db, ok: true })}\n`);
  else io.stdout.write(`ok: ${options.db} passed SQLite's quick_check\n`);
  return 0;
}

function corruptionDetail(err: unknown): string {
  return err instanceof DatabaseCorruptError ? err.detail : errorMessage(err);
}

async function runDatabaseCommand(options: CliOptions, io: CliIo, fetchImpl: FetchLike): Promise<number> {
  const db = new Database(options.db);
  const progress = new ProgressReporter(io.stdout);
  const say = (line: string) => {
    progress.finish();
    if (!options.json) io.stdout.write(`${line}\n`);
  };
  try {
    if (options.exampleSchema) db.exec(EXAMPLE_DEVICE_DDL);
    const client = await OversqliteClient.open(db, {
      baseUrl: options.server,
      tokenProvider: tokenProvider(fetchImpl, options),
      fetch: fetchImpl,
      schema: options.schema,
      tables: options.tables
        ? options.tables.map((tableName) => ({ tableName, syncKeyColumnName: 'id' }))
        : EXAMPLE_TABLES,
      bundleChangeWatchMode: options.command === 'watch' ? 'auto' : 'off',
      onProgress: options.json ? undefined : (p) => progress.update(p),
      logger: { warn: (m) => say(`warning: ${m}`), info: (m) => say(m) },
      verifyIntegrity: !options.skipCheck,
    });
    try {
      const result = await runClientCommand(client, options, io, say);
      progress.finish();
      if (options.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return 0;
    } finally {
      await client.close();
    }
  } finally {
    progress.finish();
    db.close();
  }
}

async function runClientCommand(
  client: OversqliteClient,
  options: CliOptions,
  io: CliIo,
  say: (line: string) => void,
): Promise<unknown> {
  if (options.command === 'status') {
    const [source, pending] = [await client.sourceInfo(), await client.pendingSyncStatus()];
    say(`source:   ${source.currentSourceId}`);
    say(`user:     ${client.userId || '(anonymous)'}`);
    say(`pending:  ${pending.pendingRowCount} rows${pending.blocksDetach ? ' (blocks detach)' : ''}`);
    if (source.rebuildRequired) say('rebuild required: run `oversqlite hydrate`');
    if (source.sourceRecoveryRequired)
      say(`source recovery required (${source.sourceRecoveryReason}): run \`oversqlite hydrate\``);
    return { user: client.userId, source, pending };
  }
  const attached = await attachWithRetry(client, options.user, say);
  switch (options.command) {
    case 'push': {
      const report = await client.pushPending();
      say(`push: ${report.outcome}; ${describeStatus(report.status)}`);
      return { attach: attached, push: report };
    }
    case 'pull': {
      const report = await client.pullToStable();
      say(`pull: ${report.outcome}${describeRestore(report.restore)}; ${describeStatus(report.status)}`);
      return { attach: attached, pull: report };
    }
    case 'sync': {
      const report = await client.sync();
      say(
        `sync: push ${report.pushOutcome}, pull ${report.remoteOutcome}${describeRestore(report.restore)}; ` +
          `${describeStatus(report.status)}`,
      );
      return { attach: attached, sync: report };
    }
    case 'hydrate': {
      if (attached.outcome === 'used_remote_state') return { attach: attached };
      const report = await client.rebuild();
      say(`hydrate: ${report.outcome}${describeRestore(report.restore)}; ${describeStatus(report.status)}`);
      return { attach: attached, rebuild: report };
    }
    default: {
      const first = await client.sync();
      say(`sync: push ${first.pushOutcome}, pull ${first.remoteOutcome}; ${describeStatus(first.status)}`);
      say('watching for changes (Ctrl-C to stop)');
      const stop = io.stopSignal ?? processStopSignal();
      client.start(stop);
      await new Promise<void>((resolve) =>
        stop.aborted ? resolve() : stop.addEventListener('abort', () => resolve(), { once: true }),
      );
      await client.stop();
      return { attach: attached, lastBundleSeqSeen: await client.lastBundleSeqSeen() };
    }
  }
}

/** `retry_later` is answered while another device seeds the scope: wait and ask again. */
async function attachWithRetry(
  client: OversqliteClient,
  user: string,
  say: (line: string) => void,
): Promise<AttachResult> {
  for (let attempt = 1; ; attempt++) {
    const result = await client.attach(user);
    if (result.status === 'connected') {
      if (result.outcome !== 'resumed_attached_state')
        say(`attached ${user}: ${result.outcome}${describeRestore(result.restore)}`);
      return result;
    }
    if (attempt >= 8) throw new Error(`attach still answered retry_later after ${attempt} attempts`);
    const wait = Math.min(Math.max(result.retryAfterMs, 250), 30_000);
    say(`attach: another device is initializing this account; retrying in ${Math.round(wait / 1000)} s`);
    await sleep(wait);
  }
}

function describeStatus(status: SyncStatus): string {
  return `last bundle ${status.lastBundleSeqSeen}, pending ${status.pending.pendingRowCount} rows`;
}

function describeRestore(restore: RestoreSummary | null): string {
  return restore ? ` (snapshot at bundle ${restore.bundleSeq}, ${restore.rowCount} rows)` : '';
}

function processStopSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return controller.signal;
}
