import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

// The packages as a user gets them: `npm pack` tarballs, unpacked into the node_modules of two host
// apps made here — one compiled to CommonJS (require), one ESM — outside the repository (os.tmpdir(),
// so nothing resolves from the repo's node_modules by accident). Third-party packages are symlinks to
// the repo's installed ones: no network, no registry. Only Express hosts: the controllers are not
// platform-agnostic yet (Fastify is a later issue).

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HOST_SOURCE = fileURLToPath(new URL('./host/main.ts', import.meta.url));
// what a Nest + TypeORM + PostgreSQL host has installed anyway (and the type packages its build needs)
const HOST_DEPENDENCIES = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/platform-express',
  '@nestjs/typeorm',
  'typeorm',
  'pg',
  'reflect-metadata',
  'rxjs',
  'express',
  '@types/node',
  '@types/express',
  // the module's other required peers and its own dependencies, which `npm install @oversync/nestjs` installs with it
  '@nestjs/terminus',
  '@opentelemetry/api',
  'prom-client',
  'pg-copy-streams',
  'obuf',
];
// no NODE_OPTIONS of jest in the children
const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const { NODE_OPTIONS: _ignored, ...env } = process.env;
  return { ...env, ...extra };
};

interface PackedFile {
  path: string;
}
interface Packed {
  name: string;
  version: string;
  filename: string;
  files: PackedFile[];
}

let scratch: string;
let packed: Packed[];

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'oversync-consumer-'));
  // `npm test` built dist/ already (tsc -b); prepack would only repeat it
  const out = execFileSync(
    'npm',
    [
      'pack',
      '--json',
      '--ignore-scripts',
      '--pack-destination',
      scratch,
      '-w',
      'libs/protocol',
      '-w',
      'libs/oversync',
      '-w',
      'apps/client-node',
    ],
    { cwd: ROOT, encoding: 'utf8', env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  packed = JSON.parse(out) as Packed[];
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('npm pack', () => {
  it.each(['@oversync/protocol', '@oversync/nestjs', '@oversync/client-node'])(
    '%s ships dist, types, README and LICENSE, and nothing else',
    (name) => {
      const pkg = packed.find((p) => p.name === name);
      expect(pkg).toBeDefined();
      const files = pkg!.files.map((f) => f.path);
      expect(files).toEqual(
        expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']),
      );
      // the admin console's page is served from its source files (no build step)
      const stray = files.filter(
        (f) =>
          !/^(package\.json|README\.md|LICENSE|dist\/.+|src\/admin\/page\/[\w.-]+|src\/admin\/README\.md)$/.test(f) ||
          /\.spec\.|tsbuildinfo/.test(f),
      );
      expect(stray).toEqual([]);
    },
  );

  it('declares exports usable from require() and import, engines, and optional @nestjs/swagger', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'libs/oversync/package.json'), 'utf8')) as Record<
      string,
      Record<string, unknown>
    >;
    expect(manifest.exports!['.']).toEqual({
      types: './dist/index.d.ts',
      import: './dist/index.js',
      default: './dist/index.js',
    });
    expect(manifest.engines!.node).toBe('>=20.19.0');
    expect(manifest.peerDependenciesMeta!['@nestjs/swagger']).toEqual({ optional: true });
    expect(Object.keys(manifest.peerDependencies!).sort()).toEqual([
      '@nestjs/common',
      '@nestjs/core',
      '@nestjs/swagger',
      '@nestjs/terminus',
      '@nestjs/typeorm',
      '@opentelemetry/api',
      'pg',
      'prom-client',
      'reflect-metadata',
      'rxjs',
      'typeorm',
    ]);
    const protocol = packed.find((p) => p.name === '@oversync/protocol')!;
    expect((manifest.dependencies as Record<string, string>)['@oversync/protocol']).toBe(protocol.version);
  });
});

/** Unpacks a tarball as node_modules/<name> (npm's layout: the tarball holds package/…). */
function unpack(tarball: string, nodeModules: string, name: string): void {
  const target = join(nodeModules, name);
  const staging = join(nodeModules, '.unpack');
  mkdirSync(staging, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', staging]);
  mkdirSync(dirname(target), { recursive: true });
  renameSync(join(staging, 'package'), target);
  rmSync(staging, { recursive: true, force: true });
}

interface HostCase {
  kind: 'commonjs' | 'module';
  name: string;
  schema: string;
  table: string;
  rawBody: boolean;
  swagger: boolean;
}

const HOSTS: HostCase[] = [
  // the common existing app: CommonJS, Nest's default body parser, no @nestjs/swagger installed
  { kind: 'commonjs', name: 'cjs-host', schema: 'crm', table: 'contacts', rawBody: false, swagger: false },
  // an ESM app with rawBody and Swagger
  { kind: 'module', name: 'esm-host', schema: 'todo', table: 'tasks', rawBody: true, swagger: true },
];

describe.each(HOSTS)('a $kind host app ($name) using the packed packages', (host) => {
  let dir: string;
  let db: TestDatabase;
  let child: ChildProcess | undefined;
  let base: string;
  let docs: boolean;
  let stderr = '';

  beforeAll(async () => {
    dir = join(scratch, host.name);
    const nodeModules = join(dir, 'node_modules');
    mkdirSync(join(dir, 'src'), { recursive: true });
    for (const name of ['@oversync/protocol', '@oversync/nestjs']) {
      unpack(join(scratch, packed.find((p) => p.name === name)!.filename), nodeModules, name);
    }
    for (const name of [...HOST_DEPENDENCIES, ...(host.swagger ? ['@nestjs/swagger'] : [])]) {
      mkdirSync(dirname(join(nodeModules, name)), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', name), join(nodeModules, name), 'dir');
    }
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: host.name, private: true, type: host.kind }, null, 2),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify(
        {
          compilerOptions: {
            // CommonJS: what the Nest CLI scaffolded for years ("module": "commonjs"); ESM: NodeNext
            ...(host.kind === 'commonjs'
              ? { target: 'ES2021', module: 'commonjs' }
              : { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext' }),
            rootDir: 'src',
            outDir: 'dist',
            strict: true,
            strictPropertyInitialization: false,
            experimentalDecorators: true,
            emitDecoratorMetadata: true,
            skipLibCheck: true,
            types: ['node'],
          },
          include: ['src'],
        },
        null,
        2,
      ),
    );
    copyFileSync(HOST_SOURCE, join(dir, 'src', 'main.ts'));
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], {
      cwd: dir,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });

    db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(`CREATE SCHEMA ${host.schema}; CREATE TABLE ${host.schema}.${host.table} (
      _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, title TEXT, big BIGINT, PRIMARY KEY (_sync_scope_id, id))`);
    await client.end();

    child = spawn(process.execPath, ['dist/main.js'], {
      cwd: dir,
      env: childEnv({
        DATABASE_URL: db.url,
        HOST_SCHEMA: host.schema,
        HOST_TABLE: host.table,
        HOST_NAME: host.name,
        HOST_RAW_BODY: host.rawBody ? '1' : '0',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const started = await new Promise<RegExpMatchArray>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(
        () => reject(new Error(`${host.name} did not start in 45 s: ${stdout}${stderr}`)),
        45_000,
      );
      child!.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /LISTENING (\d+) docs=(true|false)/.exec(stdout);
        if (match) {
          clearTimeout(timer);
          resolve(match);
        }
      });
      child!.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${host.name} exited with ${code}: ${stdout}${stderr}`));
      });
    });
    base = `http://127.0.0.1:${started[1]}`;
    docs = started[2] === 'true';
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await db?.drop();
  });

  const call = async (
    method: string,
    path: string,
    options: { user?: string; source?: string; body?: string } = {},
  ) => {
    const headers: Record<string, string> = {};
    if (options.user) headers['x-host-user'] = options.user;
    if (options.source) headers['oversync-source-id'] = options.source;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, body: options.body });
    const text = await res.text();
    return { status: res.status, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };

  it(`compiles to ${host.kind === 'commonjs' ? 'require()' : 'import'} of the package`, () => {
    const emitted = readFileSync(join(dir, 'dist/main.js'), 'utf8');
    if (host.kind === 'commonjs') expect(emitted).toContain('require("@oversync/nestjs")');
    else expect(emitted).toMatch(/^import .* from '@oversync\/nestjs';$/m);
  });

  it('runs connect → push → pull with the host guard, exact 64-bit integers through the host body parser', async () => {
    const as = { user: 'u-1', source: 'device-a' };
    expect((await call('GET', '/sync/capabilities', { source: 'device-a' })).json).toEqual({
      error: 'authentication_failed',
      message: 'authentication required',
    });
    const caps = await call('GET', '/sync/capabilities', as);
    expect(caps.status).toBe(200);
    expect(caps.json!.registered_tables).toEqual([`${host.schema}.${host.table}`]);
    const connect = await call('POST', '/sync/connect', { ...as, body: '{"has_local_pending_rows":false}' });
    expect(connect).toMatchObject({ status: 200, json: { resolution: 'initialize_empty' } });

    const created = await call('POST', '/sync/push-sessions', {
      ...as,
      body: '{"source_bundle_id":1,"planned_row_count":1}',
    });
    expect(created.status).toBe(200);
    const pushId = created.json!.push_id as string;
    const id = randomUUID();
    // beyond 2^53: a JSON.parse by the host's body parser on the way would store …992
    const chunk =
      `{"start_row_ordinal":0,"rows":[{"schema":"${host.schema}","table":"${host.table}","key":{"id":"${id}"},` +
      `"op":"INSERT","base_row_version":0,"payload":{"title":"from ${host.name}","big":9007199254740993}}]}`;
    expect((await call('POST', `/sync/push-sessions/${pushId}/chunks`, { ...as, body: chunk })).status).toBe(200);
    const commit = await call('POST', `/sync/push-sessions/${pushId}/commit`, as);
    expect(commit).toMatchObject({
      status: 200,
      json: { bundle_seq: 1, source_id: 'device-a', source_bundle_id: 1, row_count: 1 },
    });

    const pulled = await call('GET', '/sync/pull?after_bundle_seq=0', { user: 'u-1', source: 'device-b' });
    expect(pulled.status).toBe(200);
    // bundle payloads carry the exact literal (the hash stays the reference's, over the double form)
    expect(pulled.text).toContain('"big":9007199254740993');
    expect(pulled.json).toMatchObject({
      stable_bundle_seq: 1,
      has_more: false,
      bundles: [{ bundle_seq: 1, rows: [{ key: { id }, op: 'INSERT' }] }],
    });

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT _sync_scope_id, big::text AS big, title FROM ${host.schema}.${host.table}`,
      );
      expect(rows).toEqual([{ _sync_scope_id: 'u-1', big: '9007199254740993', title: `from ${host.name}` }]);
    } finally {
      await client.end();
    }
  });

  it("leaves the host's own JSON route to the host's parser, and answers bad sync bodies in the protocol envelope", async () => {
    const echo = await call('POST', '/host/echo', { body: '{"name":"n","count":2}' });
    expect(echo).toMatchObject({ status: 201, json: { received: { name: 'n', count: 2 }, countType: 'number' } });
    const badHost = await call('POST', '/host/echo', { body: '{"name":' });
    expect(badHost.status).toBe(400);
    expect(badHost.json).toMatchObject({ statusCode: 400 }); // Nest's own format: the module did not touch it
    const badSync = await call('POST', '/sync/connect', {
      user: 'u-2',
      source: 'd',
      body: '{"has_local_pending_rows":',
    });
    expect(badSync).toMatchObject({
      status: 400,
      json: { error: 'invalid_request', message: 'Failed to parse connect request' },
    });
  });

  it(
    host.swagger
      ? "documents the sync routes in the host's OpenAPI document"
      : 'starts without @nestjs/swagger installed',
    async () => {
      expect(docs).toBe(host.swagger);
      const document = await call('GET', '/docs-json');
      if (!host.swagger) {
        expect(document.status).toBe(404);
        return;
      }
      const paths = document.json!.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>;
      expect(Object.keys(paths['/sync/pull']!.get!.responses).sort()).toEqual([
        '200',
        '400',
        '401',
        '409',
        '500',
        '503',
      ]);
      expect(paths['/sync/push-sessions/{push_id}/commit']!.post!.responses['200']).toBeDefined();
    },
  );
});
