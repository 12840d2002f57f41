import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { applyAuthoritativePage, ApplyPages, type AuthoritativeRow } from './authoritative-apply.js';
import type { ClientContext } from './client-context.js';
import { clientContextOf, OversqliteClient } from './oversqlite-client.js';
import { parseJson } from './json-value.js';
import { keyJson } from './row-codec.js';
import { sqliteFiles } from './sqlite-file.spec-support.js';
import type { RowOp } from './sync-state.js';

// A pull applies runs of 16 to 64 inserts/updates of one table with multi-row INSERT OR FAIL statements;
// the row that stops a batch (a key with a row state, a key repeated, a constraint) and the rest of its run
// go one by one. A page applied in one call must leave what the same rows applied one call a row leave
// (a one-row page never batches): business rows, row states, dirty rows, the count, the error.

const DDL = `
CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT);
CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT);
`;
const databases = sqliteFiles();

async function device(): Promise<{ ctx: ClientContext; client: OversqliteClient }> {
  const { db } = databases.open();
  db.exec(DDL);
  const client = await OversqliteClient.open(db, {
    baseUrl: 'http://127.0.0.1:9',
    tokenProvider: () => 't',
    schema: 'business',
    tables: [
      { tableName: 'users', syncKeyColumnName: 'id' },
      { tableName: 'notes', syncKeyColumnName: 'id' },
    ],
    fetch: () => Promise.reject(new Error('no server')),
  });
  const ctx = clientContextOf(client);
  ctx.state.updateAttachment({ bindingState: 'attached', attachedUserId: 'u1', schemaName: 'business' });
  return { ctx, client };
}

interface Spec {
  table: 'users' | 'notes';
  key: string;
  op: RowOp;
  version: number;
  name: string | null;
  /** the columns' values as the worker reads them, a JSON payload (the main thread's read), or a broken one */
  form?: 'values' | 'json' | 'broken';
}

function rowOf(ctx: ClientContext, spec: Spec): AuthoritativeRow {
  const table = ctx.table(spec.table)!;
  const values = spec.table === 'users' ? [spec.key, spec.name, `${spec.key}@x`] : [spec.key, spec.name];
  const form = spec.op === 'DELETE' ? 'none' : (spec.form ?? 'values');
  const payload = Object.fromEntries(table.columns.map((c, i) => [c.name, values[i]]));
  return {
    ref: { table, localKey: spec.key, keyJson: keyJson(table, spec.key) },
    op: spec.op,
    rowVersion: spec.version,
    payload: form === 'json' ? parseJson(JSON.stringify(payload)) : form === 'broken' ? parseJson('[1]') : undefined,
    values: form === 'values' ? values : undefined,
  };
}

/**
 * Applies the rows in one transaction, in pages of `pageRows` (`shared`: the pages share what they read once,
 * as a pull's do): the rows written, or the error's message.
 */
function apply(ctx: ClientContext, specs: readonly Spec[], pageRows: number, shared = false): number | string {
  try {
    return ctx.state.applyTransaction(() => {
      let count = 0;
      const pages = shared ? new ApplyPages() : undefined;
      for (let i = 0; i < specs.length; i += pageRows)
        count += applyAuthoritativePage(
          ctx,
          specs.slice(i, i + pageRows).map((spec) => rowOf(ctx, spec)),
          { skipStale: true, clearDirty: true },
          pages,
        );
      return count;
    });
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
}

function contents(ctx: ClientContext) {
  const all = (sql: string) => ctx.db.prepare(sql).all();
  return {
    users: all('SELECT * FROM users ORDER BY id'),
    notes: all('SELECT * FROM notes ORDER BY id'),
    state: all('SELECT table_name, key_json, row_version, deleted FROM _sync_row_state ORDER BY table_name, key_json'),
    dirty: all('SELECT table_name, key_json, op FROM _sync_dirty_rows ORDER BY table_name, key_json'),
  };
}

/** The same history on two devices: local rows (captured as dirty, no row state) and an applied page. */
async function twoDevices(local: readonly Spec[], applied: readonly Spec[]) {
  const devices = [await device(), await device()];
  for (const { ctx } of devices) {
    const insert = ctx.db.prepare('INSERT OR REPLACE INTO users (id, name, email) VALUES (?, ?, ?)');
    for (const spec of local) insert.run(spec.key, spec.name ?? 'local', 'local@x');
    expect(typeof apply(ctx, applied, 1)).toBe('number');
  }
  return devices;
}

const fresh = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);

describe('a pull page applied in batches', () => {
  it('writes what the same rows write one by one, whatever the runs, keys, versions and errors', async () => {
    const pool = fresh('k', 12); // keys that repeat: within a batch, against earlier rows and local rows
    const spec = fc.record({
      table: fc.constantFrom<Spec['table']>('users', 'users', 'users', 'notes'),
      key: fc.oneof(fc.constantFrom(...pool), fc.uuid()),
      op: fc.constantFrom<RowOp>('INSERT', 'INSERT', 'INSERT', 'UPDATE', 'DELETE'),
      version: fc.integer({ min: 1, max: 6 }),
      name: fc.oneof(
        { weight: 60, arbitrary: fc.string({ maxLength: 3 }) },
        { weight: 1, arbitrary: fc.constant(null) },
      ),
      form: fc.oneof(
        { weight: 20, arbitrary: fc.constantFrom<Spec['form']>('values', 'json') },
        { weight: 1, arbitrary: fc.constant<Spec['form']>('broken') },
      ),
    });
    // long runs of one table and op, so that most pages hold batches, cut at every size around 16 and 64
    const page = fc.array(fc.tuple(spec, fc.integer({ min: 1, max: 70 }), fc.boolean()), { maxLength: 6 }).map((runs) =>
      runs.flatMap(([first, length, freshKeys]) =>
        Array.from({ length }, (_, i) => ({
          ...first,
          key: freshKeys ? `${first.key}-${i}` : i % 7 === 3 ? pool[i % pool.length]! : `${first.key}-${i}`,
          version: first.version + (i % 3),
          // a broken row (null in NOT NULL, a payload not an object) only at the end of its run
          name: first.name === null && i !== length - 1 ? 'n' : first.name,
          form: first.form === 'broken' && i !== length - 1 ? 'json' : first.form,
        })),
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(pool.map((key) => ({ table: 'users', key, op: 'INSERT', version: 0, name: 'L' }) as Spec)),
        fc.array(spec, { maxLength: 20 }),
        page,
        fc.constantFrom<[number, boolean]>([1000, false], [37, false], [37, true], [64, true]),
        async (local, before, rows, [pageRows, shared]) => {
          const [batched, single] = await twoDevices(
            local,
            before.map((s) => ({ ...s, name: s.name ?? 'x', form: 'values' })),
          );
          const got = apply(batched!.ctx, rows, pageRows, shared);
          const want = apply(single!.ctx, rows, 1);
          expect(got).toEqual(want);
          expect(contents(batched!.ctx)).toEqual(contents(single!.ctx));
          await batched!.client.close();
          await single!.client.close();
        },
      ),
      { numRuns: 80 },
    );
  }, 180_000); // two devices opened a run: slow on a loaded machine

  it('keeps every row of a run one longer than a batch, and a delete amid new rows', async () => {
    const { ctx, client } = await device();
    const keys = fresh('u', 130);
    const rows: Spec[] = keys.map((key, i) => ({ table: 'users', key, op: 'INSERT', version: i + 1, name: `n${i}` }));
    rows.splice(65, 0, { table: 'users', key: keys[3]!, op: 'DELETE', version: 500, name: null });
    expect(apply(ctx, rows, 1000)).toBe(131);
    const ids = (ctx.db.prepare('SELECT id FROM users ORDER BY id').all() as { id: string }[]).map((r) => r.id);
    expect(ids).toEqual(keys.filter((_, i) => i !== 3));
    expect(ctx.db.prepare('SELECT count(*) AS n FROM _sync_row_state').get()).toEqual({ n: 130 });
    expect(
      ctx.db.prepare("SELECT row_version, deleted FROM _sync_row_state WHERE key_json LIKE '%u-003%'").get(),
    ).toEqual({ row_version: 500, deleted: 1 });
    expect(ctx.db.prepare("SELECT row_version FROM _sync_row_state WHERE key_json LIKE '%u-064%'").get()).toEqual({
      row_version: 65,
    });
    await client.close();
  });

  it('fails as one by one on a broken row amid a batch, and writes nothing', async () => {
    const { ctx, client } = await device();
    const rows: Spec[] = fresh('e', 40).map((key, i) => ({
      table: 'users',
      key,
      op: 'INSERT',
      version: 1,
      name: i === 20 ? null : 'n',
    }));
    expect(apply(ctx, rows, 1000)).toBe(
      'RowApplyError: failed to apply authoritative upsert for business.users: failed to execute upsert: ' +
        'NOT NULL constraint failed: users.name',
    );
    expect(contents(ctx)).toEqual({ users: [], notes: [], state: [], dirty: [] });
    await client.close();
  });

  it('leaves a stale row alone when it repeats a key of its batch', async () => {
    const { ctx, client } = await device();
    const rows: Spec[] = fresh('s', 30).map((key) => ({ table: 'users', key, op: 'INSERT', version: 5, name: 'new' }));
    rows.splice(10, 0, { table: 'users', key: 's-002', op: 'UPDATE', version: 4, name: 'stale' });
    expect(apply(ctx, rows, 1000)).toBe(30);
    expect(ctx.db.prepare("SELECT name FROM users WHERE id = 's-002'").get()).toEqual({ name: 'new' });
    // a stale row's payload is never decoded: a broken one is no error (as one by one)
    const again: Spec[] = fresh('t', 30).map((key) => ({ table: 'users', key, op: 'INSERT', version: 1, name: 'n' }));
    again.splice(5, 0, { table: 'users', key: 's-007', op: 'UPDATE', version: 5, name: 'x', form: 'broken' });
    expect(apply(ctx, again, 1000)).toBe(30);
    await client.close();
  });
});
