/** Identity of the `sync` schema layout this server writes and accepts (spec §2). */
export const SYNC_PROTOCOL_LABEL = 'v1';
export const SYNC_LAYOUT_NAME = 'server_postgres_sync_v1';

/** The hidden owner column every registered table carries. */
export const SYNC_SCOPE_COLUMN = '_sync_scope_id';

/**
 * Serialises sync DDL (schema creation and trigger installation) across processes sharing a database.
 * Key 0x6f76657273796e63 is ASCII "oversync"; it exceeds 2^53, so it stays a SQL literal.
 */
export const ACQUIRE_BOOTSTRAP_LOCK_SQL = 'SELECT pg_advisory_xact_lock(8031718527699873379)';
