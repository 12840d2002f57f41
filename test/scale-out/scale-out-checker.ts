/**
 * The scale-out checker: judges what the devices and PostgreSQL show after the run against the
 * world's ledger.
 *
 * 1. no acknowledged write lost: every acknowledged token is in the user's committed history;
 * 2. none applied twice: a token is in at most one bundle row, each source's source_bundle_ids are 1..n;
 * 3. bundle_seq gap-free per user: the log holds exactly 1..latest (nothing is pruned in this run);
 * 4. every row is its creator's last write (present with that token, or absent after a delete);
 * 5. every device's tables equal PostgreSQL's rows of its user (all registered tables);
 * 6. the server's live row_state keys equal its business rows.
 */
import type pg from 'pg';
import { TABLE_NAMES } from '../fuzz/convergence-model.js';
import { deviceRows, serverRows } from '../fuzz/convergence-tables.js';
import type { ScaleOutWorld } from './scale-out-world.js';

const MAX_REPORTS_PER_CHECK = 8;

export async function checkScaleOut(world: ScaleOutWorld, pgClient: pg.Client): Promise<string[]> {
  const problems: string[] = [];
  const report = (check: string, message: string) => {
    if (problems.filter((p) => p.startsWith(check)).length < MAX_REPORTS_PER_CHECK)
      problems.push(`${check}: ${message}`);
  };
  const users = world.users;

  // 1 + 2: tokens in committed history
  const committed = await pgClient.query<{ user_id: string; token: string; n: number }>(
    `SELECT us.user_id, br.payload_wire->>'name' AS token, count(*)::int AS n
       FROM sync.bundle_rows br
       JOIN sync.user_state us ON us.user_pk = br.user_pk
       JOIN sync.table_catalog tc ON tc.table_id = br.table_id
      WHERE tc.table_name = 'users' AND br.payload_wire IS NOT NULL AND us.user_id = ANY($1)
      GROUP BY 1, 2`,
    [users],
  );
  const tokenUser = new Map<string, string>();
  for (const row of committed.rows) {
    if (row.n > 1) report('applied-twice', `${row.user_id}: write ${row.token} is in ${row.n} bundle rows`);
    const other = tokenUser.get(row.token);
    if (other !== undefined) report('applied-twice', `write ${row.token} committed for ${other} and ${row.user_id}`);
    tokenUser.set(row.token, row.user_id);
  }
  for (const w of world.acked) {
    if (w.token === null) continue;
    const user = tokenUser.get(w.token);
    if (user !== w.user)
      report(
        'lost-write',
        `d${w.device} ${w.user} users/${w.id} write ${w.token} was acknowledged but is in no committed bundle ` +
          `of the user${user ? ` (found under ${user})` : ''}`,
      );
  }
  const tuples = await pgClient.query<{ user_id: string; source_id: string; ids: string[] }>(
    `SELECT us.user_id, bl.source_id, array_agg(bl.source_bundle_id::text ORDER BY bl.source_bundle_id) AS ids
       FROM sync.bundle_log bl JOIN sync.user_state us ON us.user_pk = bl.user_pk
      WHERE us.user_id = ANY($1) GROUP BY 1, 2`,
    [users],
  );
  for (const row of tuples.rows) {
    if (row.ids.some((id, i) => Number(id) !== i + 1))
      report(
        'applied-twice',
        `${row.user_id}: source ${row.source_id} committed source_bundle_ids [` +
          `${row.ids.slice(0, 20).join(',')}], not 1..${row.ids.length}`,
      );
  }

  // 3: gap-free history
  const history = await pgClient.query<{ user_id: string; latest: string; floor: string; seqs: string[] | null }>(
    `SELECT us.user_id, us.next_bundle_seq - 1 AS latest, us.retained_bundle_floor AS floor,
            (SELECT array_agg(bl.bundle_seq::text ORDER BY bl.bundle_seq) FROM sync.bundle_log bl
              WHERE bl.user_pk = us.user_pk) AS seqs
       FROM sync.user_state us WHERE us.user_id = ANY($1)`,
    [users],
  );
  if (history.rows.length !== users.length)
    report('history', `${history.rows.length} of ${users.length} users have sync state`);
  for (const row of history.rows) {
    const latest = Number(row.latest);
    const seqs = (row.seqs ?? []).map(Number);
    if (Number(row.floor) !== 0)
      report('history', `${row.user_id}: retained floor ${row.floor} (nothing should have been pruned)`);
    if (seqs.length !== latest || seqs.some((seq, i) => seq !== i + 1))
      report(
        'history',
        `${row.user_id}: bundle_seqs are not 1..${latest} (${seqs.length} bundles, first gap at ` +
          `${seqs.findIndex((seq, i) => seq !== i + 1) + 1})`,
      );
  }

  // 4: every row is its creator's last write
  for (const user of users) {
    const expected = new Map<string, string | null>();
    for (const d of world.devices.filter((x) => x.user === user))
      for (const [id, token] of d.rows) expected.set(id, token);
    for (const [id, name] of world.otherRows.get(user) ?? []) expected.set(id, name);
    const actual = new Map(
      (
        await pgClient.query<{ id: string; name: string }>(
          'SELECT id::text, name FROM business.users WHERE _sync_scope_id = $1',
          [user],
        )
      ).rows.map((r) => [r.id, r.name]),
    );
    for (const [id, token] of expected) {
      const found = actual.get(id);
      if (token === null && found !== undefined)
        report('final-state', `${user} users/${id} was deleted last but is on the server (${found})`);
      if (token !== null && found !== token)
        report('final-state', `${user} users/${id}: last write ${token}, server ${found ?? 'missing'}`);
    }
    for (const id of actual.keys())
      if (!expected.has(id)) report('final-state', `${user} users/${id} on the server was written by no device`);
  }

  // 5: devices = PostgreSQL
  for (const d of world.devices) {
    for (const table of TABLE_NAMES) {
      const local = JSON.stringify(deviceRows(d.db, table));
      const remote = JSON.stringify(await serverRows(pgClient, d.user, table));
      if (local !== remote)
        report(
          'convergence',
          `d${d.index} (${d.user}) ${table}: device ${local.slice(0, 200)} ≠ server ${remote.slice(0, 200)}`,
        );
    }
  }

  // 6: row_state ⇔ business rows
  const rowState = await pgClient.query<{ user_id: string; without_state: number; state_without_row: number }>(
    `SELECT us.user_id,
            (SELECT count(*) FROM business.users b WHERE b._sync_scope_id = us.user_id
               AND NOT EXISTS (SELECT 1 FROM sync.row_state rs WHERE rs.user_pk = us.user_pk
                 AND rs.table_id = tc.table_id
                                 AND NOT rs.deleted AND rs.key_bytes = uuid_send(b.id)))::int AS without_state,
            (SELECT count(*) FROM sync.row_state rs WHERE rs.user_pk = us.user_pk AND rs.table_id = tc.table_id AND
              NOT rs.deleted
               AND NOT EXISTS (SELECT 1 FROM business.users b WHERE b._sync_scope_id = us.user_id
                 AND uuid_send(b.id) = rs.key_bytes))::int AS state_without_row
       FROM sync.user_state us CROSS JOIN sync.table_catalog tc
      WHERE us.user_id = ANY($1) AND tc.table_name = 'users'`,
    [users],
  );
  for (const row of rowState.rows) {
    if (row.without_state || row.state_without_row)
      report(
        'row-state',
        `${row.user_id}: ${row.without_state} rows without live row_state, ${row.state_without_row} live ` +
          `row_state entries without a row`,
      );
  }
  return problems;
}
