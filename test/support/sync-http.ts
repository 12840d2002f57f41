import request from 'supertest';

export { userInsertRow } from './wire-rows.js';

/** A minimal protocol caller for server e2e suites: one user, one source. */
export class SyncHttp {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
    readonly sourceId: string,
  ) {}

  get(path: string) {
    return request(this.baseUrl)
      .get(path)
      .set('Authorization', `Bearer ${this.token}`)
      .set('Oversync-Source-ID', this.sourceId);
  }

  post(path: string, body?: unknown) {
    const r = request(this.baseUrl)
      .post(path)
      .set('Authorization', `Bearer ${this.token}`)
      .set('Oversync-Source-ID', this.sourceId);
    return body === undefined
      ? r
      : typeof body === 'string'
        ? r.set('Content-Type', 'application/json').send(body)
        : r.send(body as object);
  }

  delete(path: string) {
    return request(this.baseUrl)
      .delete(path)
      .set('Authorization', `Bearer ${this.token}`)
      .set('Oversync-Source-ID', this.sourceId);
  }

  async connect(pending = false) {
    return this.post('/sync/connect', { has_local_pending_rows: pending }).expect(200);
  }

  /** create → one chunk → commit; returns the commit response body */
  async push(sourceBundleId: number, rows: unknown[], initializationId?: string) {
    const created = await this.post('/sync/push-sessions', {
      source_bundle_id: sourceBundleId,
      planned_row_count: rows.length,
      ...(initializationId ? { initialization_id: initializationId } : {}),
    });
    if (created.status !== 200) return created;
    const pushId = (created.body as { push_id: string }).push_id;
    const chunk = await this.post(`/sync/push-sessions/${pushId}/chunks`, { start_row_ordinal: 0, rows });
    if (chunk.status !== 200) return chunk;
    return this.post(`/sync/push-sessions/${pushId}/commit`);
  }
}
