// The example host's test surface (spec/server.md §3.14, not part of the library): what the reference
// app's failure injector accepts and the client simulator's scenarios send.

/** Endpoint names of the failure injector, as the reference example's harness names them. */
export const INJECTABLE_ENDPOINTS = [
  'connect',
  'push_session_create',
  'push_session_chunk',
  'push_session_commit',
  'pull',
  'snapshot_create',
  'snapshot_chunk',
  'capabilities',
  'committed_bundle_rows',
] as const;
export type InjectableEndpoint = (typeof INJECTABLE_ENDPOINTS)[number];
