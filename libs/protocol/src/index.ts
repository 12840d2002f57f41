// @oversync/protocol: the wire contract shared by the sync server and the SQLite client.
export * from './wire-types.js';
export * from './error-codes.js';
export * from './limits.js';
export * from './go-strings.js';
export * from './json-reader.js';
export * from './json-binding.js';
export * from './json-views.js';
export * from './canonical-exact-json.js';
export * from './go-json-encode.js';
export * from './canonical-json.js';
export * from './bundle-hash.js';
export * from './binary-codecs.js';
export * from './uuid-codecs.js';
export * from './value-codecs.js';
export * from './wire-payload.js';
export * from './watch-event.js';
export * from './test-surface.js';
