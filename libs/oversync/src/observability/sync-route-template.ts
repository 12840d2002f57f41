/** Static segments of the module's routes; anything else in a path is a parameter. */
const STATIC_SEGMENTS = new Set([
  'sync',
  'syncx',
  'connect',
  'push-sessions',
  'chunks',
  'commit',
  'committed-bundles',
  'rows',
  'pull',
  'capabilities',
  'snapshot-sessions',
  'watch',
  'status',
  'health',
]);
const MAX_SEGMENTS = 4;

/**
 * The route template of a request path (`/sync/push-sessions/:id/chunks`), also for requests refused
 * before routing (body too large, malformed path): a bounded label set whatever clients send.
 */
export function syncRouteTemplate(path: string): string {
  const segments = path.split('/').filter((segment) => segment !== '');
  if (segments.length === 0 || segments.length > MAX_SEGMENTS || !STATIC_SEGMENTS.has(segments[0]!)) return 'other';
  return '/' + segments.map((segment) => (STATIC_SEGMENTS.has(segment) ? segment : ':id')).join('/');
}
