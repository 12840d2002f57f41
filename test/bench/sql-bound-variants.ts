// Issue 21 probe: what the spec-pinned constraints cost the request functions, as variants for sql-ab-probe.ts.
// Prints the variants JSON: this build as it is, and the same build on databases without the CHECK constraints the
// everyday path writes through (`nochecks`), without the sync schema's foreign keys but the session rows' cascade
// (`nofks`), and without the insert mark trigger on business.users (`nomark`). Upper bounds, not levers: the spec
// pins every one of these constraints (§2.2), and the mark orders a host trigger's rows (README "Where we differ").
// `npx tsx test/bench/sql-ab-probe.ts "$(npx tsx test/bench/sql-bound-variants.ts)" 500`
const dropChecks: Record<string, string[]> = {
  push_sessions: ['push_sessions_row_count_chk'],
  push_session_rows: ['push_session_rows_op_code_chk', 'push_session_rows_payload_by_op_chk'],
  bundle_capture_stage: ['bundle_capture_stage_op_code_chk', 'bundle_capture_stage_payload_by_op_chk'],
  bundle_rows: ['bundle_rows_op_code_chk', 'bundle_rows_payload_by_op_chk'],
  user_state: ['user_state_bundle_seq_chk', 'user_state_retained_floor_chk'],
  source_state: [
    'source_state_state_chk',
    'source_state_max_committed_chk',
    'source_state_active_chk',
    'source_state_reserved_chk',
    'source_state_retired_chk',
  ],
};
const nochecks = Object.entries(dropChecks)
  .map(([table, names]) => `ALTER TABLE sync.${table} ${names.map((n) => `DROP CONSTRAINT ${n}`).join(', ')};`)
  .join('\n');
const nofks = `DO $$ DECLARE c RECORD; BEGIN
  FOR c IN SELECT conrelid::regclass AS t, conname FROM pg_constraint
            WHERE contype = 'f' AND connamespace = 'sync'::regnamespace AND conname <> 'push_session_rows_push_id_fkey'
  LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.t, c.conname);
  END LOOP;
END $$;`;
const nomark = 'DROP TRIGGER oversync_bundle_mark_inserting ON business.users;';
const variants = {
  this: {},
  nochecks: { PROBE_SQL: nochecks },
  nofks: { PROBE_SQL: nofks },
  nomark: { PROBE_SQL: nomark },
};
console.log(JSON.stringify(variants));
