/** DI token of the module's SyncDatabase (the host's pg pool). */
export const OVERSYNC_DATABASE = Symbol('OVERSYNC_DATABASE');
/** DI token of the resolved (validated, defaulted) configuration. */
export const OVERSYNC_CONFIG = Symbol('OVERSYNC_CONFIG');
/** DI token of the host guards that protect /sync routes. */
export const OVERSYNC_HOST_GUARDS = Symbol('OVERSYNC_HOST_GUARDS');
/** DI token: whether the host asked for the route fallback (`routeFallback` of forRoot). */
export const OVERSYNC_ROUTE_FALLBACK = Symbol('OVERSYNC_ROUTE_FALLBACK');
