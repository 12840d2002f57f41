// The admin API client. The bearer token lives in sessionStorage (this tab only) and goes in the
// Authorization header: never a cookie, so another site cannot make the browser act for the admin.

const TOKEN_KEY = 'oversync-admin-token';
const base = document.body.dataset.base;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

const enc = encodeURIComponent;

async function call(method, path, body) {
  let response;
  try {
    response = await fetch(`${base}api/${path}`, {
      method,
      headers: { Authorization: `Bearer ${token.get() ?? ''}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (error) {
    throw new ApiError(0, 'network_error', `the server did not answer (${error.message})`);
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below with the status
  }
  if (!response.ok) {
    throw new ApiError(response.status, json?.error ?? 'http_error', json?.message ?? `HTTP ${response.status}`);
  }
  return json;
}

const page = (path, cursor, extra = {}) => {
  const query = new URLSearchParams({ ...extra, ...(cursor ? { cursor } : {}) });
  return call('GET', `${path}?${query}`);
};

export const api = {
  status: () => call('GET', 'status'),
  users: (prefix, cursor) => page('users', cursor, prefix ? { prefix } : {}),
  user: (userId) => call('GET', `users/${enc(userId)}`),
  sources: (userId, cursor) => page(`users/${enc(userId)}/sources`, cursor),
  pushSessions: (userId, cursor) => page(`users/${enc(userId)}/push-sessions`, cursor),
  snapshotSessions: (userId, cursor) => page(`users/${enc(userId)}/snapshot-sessions`, cursor),
  bundles: (userId, cursor) => page(`users/${enc(userId)}/bundles`, cursor),
  bundle: (userId, seq, cursor) => page(`users/${enc(userId)}/bundles/${enc(seq)}`, cursor),
  rejectedWrites: (userId, cursor) => page(`users/${enc(userId)}/rejected-writes`, cursor),
  audit: (cursor) => page('audit', cursor),
  retireSource: (userId, sourceId, replacedBy) =>
    call('POST', `users/${enc(userId)}/sources/${enc(sourceId)}/retire`, replacedBy ? { replaced_by_source_id: replacedBy } : {}),
  expirePushSession: (userId, pushId) => call('POST', `users/${enc(userId)}/push-sessions/${enc(pushId)}/expire`, {}),
  expireSnapshotSession: (userId, snapshotId) => call('POST', `users/${enc(userId)}/snapshot-sessions/${enc(snapshotId)}/expire`, {}),
  raiseFloor: (userId, floor) => call('POST', `users/${enc(userId)}/retained-floor`, { retained_floor: floor }),
  sweep: () => call('POST', 'sweeps', {}),
};
