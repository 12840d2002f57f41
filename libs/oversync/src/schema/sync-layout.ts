import { BOOTSTRAP_ADVISORY_LOCK_KEY, HIDDEN_SCOPE_COLUMN, LAYOUT_LABEL, LAYOUT_NAME } from '@oversync/protocol';

/** Identity of the `sync` schema layout this server writes and accepts (spec §2). */
export const SYNC_PROTOCOL_LABEL = LAYOUT_LABEL;
export const SYNC_LAYOUT_NAME = LAYOUT_NAME;

/** The hidden owner column every registered table carries. */
export const SYNC_SCOPE_COLUMN = HIDDEN_SCOPE_COLUMN;

/**
 * Serialises sync DDL (schema creation and trigger installation) across processes sharing a database.
 * Key 0x6f76657273796e63 is ASCII "oversync"; it exceeds 2^53, so it stays a SQL literal.
 */
export const ACQUIRE_BOOTSTRAP_LOCK_SQL = `SELECT pg_advisory_xact_lock(${BOOTSTRAP_ADVISORY_LOCK_KEY})`;
