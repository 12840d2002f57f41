/**
 * The convergence fuzz's checker (Jepsen-style: it judges only what the devices and the database
 * show after the run, against the ledger the world kept):
 *
 * 1. every device's managed tables equal PostgreSQL's rows of the user it is attached to;
 * 2. every write a device saw acknowledged is in the user's committed history and still visible,
 *    unless a later bundle touched the same row (a later acknowledged write, or its cascade);
 *    writes reported to the app as conflicts, or dropped by the app itself, are excused;
 * 3. nothing was applied twice: a write's token is in at most one bundle, a source tuple
 *    (source_id, source_bundle_id) committed once, and each source's tuples are 1..n;
 * 4. bundle_seq is gap-free per user (archived history included), row counts match, and the
 *    retained log is exactly floor+1..latest;
 * 5. the server's row_state agrees with its business rows.
 */
import { TABLE_NAMES, type TableName } from './convergence-model.js';
import { deviceRows, type NormalizedRow, serverRows, TABLES, tokenOf } from './convergence-tables.js';
import { type ArchivedBundle, archiveBundles, type ConvergenceWorld } from './convergence-world.js';

const MAX_REPORTS_PER_CHECK = 8;

export async function checkConvergence(world: ConvergenceWorld): Promise<string[]> {
  const problems: string[] = [];
  const report = (check: string, message: string) => {
    if (problems.filter((p) => p.startsWith(check)).length < MAX_REPORTS_PER_CHECK)
      problems.push(`${check}: ${message}`);
  };
  const pg = world.server.pg;

  for (const user of world.users) await archiveBundles(world, user);

  // 1. devices = server
  for (const d of world.devices) {
    const user = d.wantUser;
    if (!user) {
      report('convergence', `d${d.index} is not signed in after quiescing`);
      continue;
    }
    for (const table of TABLE_NAMES) {
      const local = deviceRows(d.db, table);
      const remote = await serverRows(pg, user, table);
      const diff = diffRows(local, remote);
      if (diff) report('convergence', `d${d.index} (${user}) ${table}: ${diff}`);
    }
  }

  // 4. gap-free history; 3. tuples and tokens applied once
  const tokenSeen = new Map<string, string>();
  for (const user of world.users) {
    const state = await pg.query(
      'SELECT user_pk, next_bundle_seq - 1 AS latest, retained_bundle_floor AS floor FROM sync.user_state ' +
        'WHERE user_id = $1',
      [user],
    );
    const row = state.rows[0] as { user_pk: string; latest: string; floor: string } | undefined;
    const archive = world.archive.get(user) ?? new Map<number, ArchivedBundle>();
    if (!row) {
      if (archive.size) report('history', `${user} has archived bundles but no user_state`);
      continue;
    }
    const latest = Number(row.latest);
    const floor = Number(row.floor);
    for (let seq = 1; seq <= latest; seq++)
      if (!archive.has(seq)) report('history', `${user}: bundle_seq ${seq} missing (latest ${latest}, floor ${floor})`);
    for (const seq of archive.keys())
      if (seq > latest) report('history', `${user}: bundle_seq ${seq} above latest ${latest}`);
    const retained = await pg.query('SELECT bundle_seq FROM sync.bundle_log WHERE user_pk = $1 ORDER BY bundle_seq', [
      row.user_pk,
    ]);
    const seqs = (retained.rows as { bundle_seq: string }[]).map((r) => Number(r.bundle_seq));
    const expected = Array.from({ length: Math.max(0, latest - floor) }, (_, i) => floor + 1 + i);
    if (seqs.join(',') !== expected.join(','))
      report('history', `${user}: retained bundle_seqs [${compact(seqs)}] ≠ floor+1..latest [${compact(expected)}]`);

    const tuples = new Map<string, number>();
    const perSource = new Map<string, number[]>();
    for (const bundle of [...archive.values()].sort((a, b) => a.bundleSeq - b.bundleSeq)) {
      if (bundle.rows.length !== bundle.rowCount)
        report(
          'history',
          `${user}: bundle ${bundle.bundleSeq} row_count ${bundle.rowCount} but ${bundle.rows.length} rows`,
        );
      bundle.rows.forEach((r, i) => {
        if (r.ordinal !== bundle.rows[0]!.ordinal + i)
          report('history', `${user}: bundle ${bundle.bundleSeq} row ordinals not contiguous at ${i}`);
      });
      const tuple = `${bundle.sourceId}#${bundle.sourceBundleId}`;
      const earlier = tuples.get(tuple);
      if (earlier !== undefined)
        report(
          'applied-twice',
          `${user}: source tuple ${tuple} committed as bundle ${earlier} and ${bundle.bundleSeq}`,
        );
      tuples.set(tuple, bundle.bundleSeq);
      perSource.set(bundle.sourceId, [...(perSource.get(bundle.sourceId) ?? []), bundle.sourceBundleId]);
      for (const r of bundle.rows) {
        if (!r.token) continue;
        const where = `${user} bundle ${bundle.bundleSeq} ${r.table}/${r.id}`;
        const first = tokenSeen.get(r.token);
        if (first !== undefined) report('applied-twice', `write ${r.token} committed twice: ${first} and ${where}`);
        else tokenSeen.set(r.token, where);
      }
    }
    for (const [source, ids] of perSource) {
      const sorted = [...ids].sort((a, b) => a - b);
      if (sorted.some((id, i) => id !== i + 1))
        report(
          'applied-twice',
          `${user}: source ${source} committed source_bundle_ids [${compact(sorted)}], not 1..${ids.length}`,
        );
    }
  }

  // 2. acknowledged writes
  const rowHistory = new Map<string, { seq: number; op: string; token: string | null }[]>();
  for (const [user, archive] of world.archive) {
    for (const bundle of archive.values()) {
      for (const r of bundle.rows) {
        const key = `${user}|${r.table}/${r.id}`;
        rowHistory.set(key, [...(rowHistory.get(key) ?? []), { seq: bundle.bundleSeq, op: r.op, token: r.token }]);
      }
    }
  }
  for (const list of rowHistory.values()) list.sort((a, b) => a.seq - b.seq);
  const finalRows = new Map<string, Map<string, NormalizedRow>>();
  const serverRow = async (user: string, table: TableName, id: string) => {
    const key = `${user}|${table}`;
    if (!finalRows.has(key)) finalRows.set(key, new Map((await serverRows(pg, user, table)).map((r) => [r.id!, r])));
    return finalRows.get(key)!.get(id);
  };
  for (const w of world.acked) {
    const history = rowHistory.get(`${w.user}|${w.table}/${w.id}`) ?? [];
    const label =
      `d${w.device} ${w.kind} ${w.table}/${w.id}${w.token ? ` (${w.token})` : ''} written at op #${w.op}, ` +
      `acknowledged at op #${w.ackOp} for ${w.user}`;
    if (w.kind === 'upsert') {
      const committed = history.find((h) => h.token === w.token);
      if (!committed) {
        report('lost-write', `${label}: in no committed bundle`);
        continue;
      }
      if (committed.seq > w.ackSeq)
        report(
          'lost-write',
          `${label}: committed in bundle ${committed.seq}, after the acknowledgement (latest was ${w.ackSeq})`,
        );
      const later = history.some((h) => h.seq > committed.seq);
      const row = await serverRow(w.user, w.table, w.id);
      const visible = row !== undefined && tokenOf(row[TABLES[w.table].tokenColumn]) === w.token;
      if (!visible && !later)
        report(
          'lost-write',
          `${label}: committed in bundle ${committed.seq} but not on the server (` +
            `${row ? 'other value' : 'row missing'}) and no later bundle touched the row`,
        );
    } else {
      const upTo = history.filter((h) => h.seq <= w.ackSeq);
      const last = upTo[upTo.length - 1];
      if (last && last.op !== 'DELETE')
        report(
          'lost-write',
          `${label}: the row was live in bundle ${last.seq} at the acknowledgement (latest ${w.ackSeq})`,
        );
      const row = await serverRow(w.user, w.table, w.id);
      if (row && !history.some((h) => h.seq > w.ackSeq && h.op !== 'DELETE'))
        report('lost-write', `${label}: the row is on the server again with no later write`);
    }
  }

  // 5. row_state ⇔ business rows
  for (const user of world.users) {
    for (const table of TABLE_NAMES) {
      const result = await pg.query(
        `SELECT
           (SELECT count(*) FROM business."${table}" b WHERE b._sync_scope_id = $1
              AND NOT EXISTS (SELECT 1 FROM sync.row_state rs JOIN sync.user_state us ON us.user_pk = rs.user_pk
                               JOIN sync.table_catalog tc ON tc.table_id = rs.table_id
                              WHERE us.user_id = $1 AND tc.table_name = $2 AND rs.deleted = false
                                AND rs.key_bytes = decode(replace(b.id::text, '-', ''), 'hex')))::int AS without_state,
           (SELECT count(*) FROM sync.row_state rs JOIN sync.user_state us ON us.user_pk = rs.user_pk
              JOIN sync.table_catalog tc ON tc.table_id = rs.table_id
             WHERE us.user_id = $1 AND tc.table_name = $2 AND rs.deleted = false
               AND NOT EXISTS (SELECT 1 FROM business."${table}" b WHERE b._sync_scope_id = $1
                                 AND decode(replace(b.id::text, '-', ''), 'hex') = rs.key_bytes))::int
                                   AS state_without_row`,
        [user, table],
      );
      const counts = result.rows[0] as { without_state: number; state_without_row: number };
      if (counts.without_state || counts.state_without_row) {
        report(
          'row-state',
          `${user} ${table}: ${counts.without_state} business rows without live row_state, ` +
            `${counts.state_without_row} live row_state entries without a row`,
        );
      }
    }
  }
  return problems;
}

function diffRows(local: NormalizedRow[], remote: NormalizedRow[]): string | null {
  const l = new Map(local.map((r) => [r.id!, r]));
  const r = new Map(remote.map((x) => [x.id!, x]));
  const onlyLocal = [...l.keys()].filter((id) => !r.has(id));
  const onlyRemote = [...r.keys()].filter((id) => !l.has(id));
  const differing = [...l.keys()].filter((id) => r.has(id) && JSON.stringify(l.get(id)) !== JSON.stringify(r.get(id)));
  if (!onlyLocal.length && !onlyRemote.length && !differing.length) return null;
  const parts: string[] = [];
  if (onlyLocal.length)
    parts.push(`only on the device [${onlyLocal.slice(0, 3).join(', ')}${onlyLocal.length > 3 ? ', …' : ''}]`);
  if (onlyRemote.length)
    parts.push(`only on the server [${onlyRemote.slice(0, 3).join(', ')}${onlyRemote.length > 3 ? ', …' : ''}]`);
  for (const id of differing.slice(0, 2))
    parts.push(`differs ${id}: device ${JSON.stringify(l.get(id))} server ${JSON.stringify(r.get(id))}`);
  if (differing.length > 2) parts.push(`${differing.length - 2} more differ`);
  return parts.join('; ');
}

/** `1..5,7,9..12` */
function compact(values: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < values.length;) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    out.push(j > i ? `${values[i]}..${values[j]}` : String(values[i]));
    i = j + 1;
  }
  return out.join(',');
}
