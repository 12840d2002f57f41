import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { TestApp } from '../support/test-app.js';
import { SyncHttp, userInsertRow } from '../support/sync-http.js';
import { SseStream, syncHeaders } from '../support/sse.js';

/** One device of a user in a watch suite: pushes one-row bundles and opens watch streams. */
export class WatchDevice {
  private nextSourceBundleId = 1;
  readonly http: SyncHttp;

  constructor(
    readonly baseUrl: string,
    readonly token: string,
    readonly sourceId: string,
  ) {
    this.http = new SyncHttp(baseUrl, token, sourceId);
  }

  static async signIn(app: TestApp, user: string, sourceId: string): Promise<WatchDevice> {
    return new WatchDevice(app.baseUrl, await app.signIn(user), sourceId);
  }

  /**
   * Commits one bundle of `rows` new `business.users` rows (more than 999: the bulk commit, its bundle built by one
   * statement in PostgreSQL); returns the commit response body.
   */
  async commit(rows = 1): Promise<{ bundle_seq: number; source_id: string; source_bundle_id: number }> {
    const res = await this.http.push(
      this.nextSourceBundleId,
      Array.from({ length: rows }, () => userInsertRow(randomUUID())),
    );
    if (res.status !== 200) throw new Error(`commit failed: ${res.status} ${res.text}`);
    this.nextSourceBundleId++;
    return res.body as { bundle_seq: number; source_id: string; source_bundle_id: number };
  }

  watch(query = '', extraHeaders: Record<string, string> = {}, baseUrl = this.baseUrl): Promise<SseStream> {
    return SseStream.open(`${baseUrl}/sync/watch${query}`, {
      ...syncHeaders(this.token, this.sourceId),
      ...extraHeaders,
    });
  }
}

/** Runs `sql` on the test database with a short-lived connection. */
export async function queryDatabase<R extends pg.QueryResultRow>(
  url: string,
  sql: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it holds; rejects after `timeoutMs`. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}
