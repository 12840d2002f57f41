import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { EncodedJson, encodeGoJson } from '@oversync/protocol';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { SyncHttp } from '../support/sync-http.js';

// A page of more rows than PULL_STREAM_MIN_ROWS (1,000) is streamed (chunked, rows copied from
// PostgreSQL); its bytes must be exactly what the in-memory form writes. The expected body is built
// here the way the in-memory form builds it, from each bundle's rows as committed-rows pages give them.
// on both HTTP platforms: the page is a stream the route returns, piped by the adapter (issue 20)
describe.each(['express', 'fastify'] as const)(
  'pull: streamed pages are byte-identical to the in-memory form (%s)',
  (adapter) => {
    let t: TestApp;
    let writer: SyncHttp;
    let reader: SyncHttp;
    let db: pg.Client;
    const ids: string[] = [];

    const typedRow = (i: number) => {
      const id = randomUUID();
      ids.push(id);
      return {
        schema: 'business',
        table: 'typed_rows',
        key: { id },
        op: 'INSERT',
        base_row_version: 0,
        payload: {
          id,
          name: `row ${i} <b>&"quoted"\u2028 ünï ${'x'.repeat(i % 7)}`,
          note: i % 3 === 0 ? null : `n${i}`,
          count_value: i % 5 === 0 ? 9007199254740991 : i,
          enabled_flag: i % 2,
          rating: i / 7,
          data: Buffer.from(`bytes ${i}`).toString('base64'),
          created_at: '2026-01-02T03:04:05.123456Z',
        },
      };
    };

    /** The raw text of the `rows` array of every committed-rows page of a bundle, joined. */
    async function committedRowsText(bundleSeq: number): Promise<string> {
      const parts: string[] = [];
      let after = -1;
      for (;;) {
        const res = await reader
          .get(
            `/sync/committed-bundles/${bundleSeq}/rows?max_rows=700${after >= 0 ? `&after_row_ordinal=${after}` : ''}`,
          )
          .expect(200);
        const text = res.text;
        const inner = text.slice(text.indexOf('"rows":[') + 8, text.lastIndexOf('],"next_row_ordinal"'));
        if (inner) parts.push(inner);
        const body = res.body as { next_row_ordinal: number; has_more: boolean };
        if (!body.has_more) break;
        after = body.next_row_ordinal;
      }
      return `[${parts.join(',')}]`;
    }

    async function expectedBody(afterSeq: number, maxBundles: number): Promise<string> {
      const headers = await db.query<{
        bundle_seq: string;
        source_id: string;
        source_bundle_id: string;
        row_count: string;
        bundle_hash: string;
        latest: string;
      }>(
        `SELECT bl.bundle_seq, bl.source_id, bl.source_bundle_id, bl.row_count, encode(bl.bundle_hash, 'hex')
          AS bundle_hash, us.next_bundle_seq - 1 AS latest
         FROM sync.bundle_log bl JOIN sync.user_state us USING (user_pk)
        WHERE us.user_id = 'alice' AND bl.bundle_seq > $1 ORDER BY bl.bundle_seq`,
        [afterSeq],
      );
      const page = headers.rows.slice(0, maxBundles);
      const bundles = [];
      for (const h of page) {
        bundles.push({
          bundle_seq: BigInt(h.bundle_seq),
          source_id: h.source_id,
          source_bundle_id: BigInt(h.source_bundle_id),
          row_count: h.row_count === '0' ? undefined : BigInt(h.row_count),
          bundle_hash: h.bundle_hash || undefined,
          rows: new EncodedJson(await committedRowsText(Number(h.bundle_seq))),
        });
      }
      return (
        encodeGoJson({
          stable_bundle_seq: BigInt(headers.rows[0]!.latest),
          bundles,
          has_more: headers.rows.length > maxBundles,
        }) + `\n`
      );
    }

    beforeAll(async () => {
      t = await startTestApp({ adapter });
      const token = await t.signIn('alice');
      writer = new SyncHttp(t.baseUrl, token, 'alice-writer');
      reader = new SyncHttp(t.baseUrl, token, 'alice-reader');
      await writer.connect(false);
      db = new pg.Client({ connectionString: t.db.url });
      await db.connect();
      // 1: three rows; 2: 2,500 rows (three blocks); 3: updates and deletes; 4: 1,200 rows
      expect(
        (
          await writer.push(
            1,
            Array.from({ length: 3 }, (_, i) => typedRow(i)),
          )
        ).status,
      ).toBe(200);
      expect(
        (
          await writer.push(
            2,
            Array.from({ length: 2500 }, (_, i) => typedRow(i + 3)),
          )
        ).status,
      ).toBe(200);
      const updated = typedRow(9999);
      const changes = [
        { schema: 'business', table: 'typed_rows', key: { id: ids[0] }, op: 'DELETE', base_row_version: 1 },
        {
          ...updated,
          key: { id: ids[1] },
          op: 'UPDATE',
          base_row_version: 1,
          payload: { ...updated.payload, id: ids[1]! },
        },
      ];
      expect((await writer.push(3, changes)).status).toBe(200);
      expect(
        (
          await writer.push(
            4,
            Array.from({ length: 1200 }, (_, i) => typedRow(i + 5000)),
          )
        ).status,
      ).toBe(200);
    }, 120_000);

    afterAll(async () => {
      await db?.end();
      await t?.close();
    });

    it('streams a large page of stored blocks with its Content-Length known ahead, with exactly the bytes of the in-memory form', async () => {
      const res = await reader.get('/sync/pull?after_bundle_seq=0').expect(200);
      expect(res.headers['transfer-encoding']).toBeUndefined();
      expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.text)));
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.text).toBe(await expectedBody(0, 1000));
    });

    it('keeps paging rules on a streamed page (max_bundles, has_more)', async () => {
      const paged = await reader.get('/sync/pull?after_bundle_seq=1&max_bundles=2').expect(200);
      expect(paged.headers['content-length']).toBe(String(Buffer.byteLength(paged.text)));
      expect(paged.text).toBe(await expectedBody(1, 2));
      expect((paged.body as { has_more: boolean }).has_more).toBe(true);
    });

    it('answers a small page whole, with Content-Length, in the same form', async () => {
      const small = await reader.get('/sync/pull?after_bundle_seq=2&max_bundles=1').expect(200);
      expect(small.headers['content-length']).toBe(String(Buffer.byteLength(small.text)));
      expect(small.text).toBe(await expectedBody(2, 1));
    });

    /** A committed-rows page as pages of at most 1,000 rows (answered whole) give it, joined into one answer. */
    async function committedPageInPieces(bundleSeq: number, after: number | null, maxRows: number): Promise<string> {
      const path = (from: number | null, max: number) =>
        `/sync/committed-bundles/${bundleSeq}/rows?max_rows=${max}${from === null ? '' : `&after_row_ordinal=${from}`}`;
      const inners: string[] = [];
      let head = '';
      let tail = '';
      let from = after;
      for (let left = maxRows; left > 0;) {
        const text = (await reader.get(path(from, Math.min(left, 1000))).expect(200)).text;
        const open = text.indexOf('"rows":[') + 8;
        const close = text.lastIndexOf('],"next_row_ordinal"');
        if (!head) head = text.slice(0, open);
        tail = text.slice(close);
        if (close > open) inners.push(text.slice(open, close));
        const body = JSON.parse(text) as { rows: unknown[]; next_row_ordinal: number; has_more: boolean };
        left -= body.rows.length;
        if (!body.has_more || body.rows.length === 0) break;
        from = body.next_row_ordinal;
      }
      return `${head}${inners.join(',')}${tail}`;
    }

    it('streams a committed-rows page of more than 1,000 rows, with exactly the bytes of smaller pages joined', async () => {
      // bundle 2 holds 2,500 rows in blocks of 1,000: whole blocks, ragged ends, no whole block, past the end
      const pages: Array<[number | null, number]> = [
        [null, 2500],
        [null, 1200],
        [499, 2000],
        [299, 1500],
        [1999, 1001],
        [2498, 4000],
        [2499, 2000],
      ];
      for (const [after, maxRows] of pages) {
        const res = await reader
          .get(
            `/sync/committed-bundles/2/rows?max_rows=${maxRows}${after === null ? '' : `&after_row_ordinal=${after}`}`,
          )
          .expect(200);
        expect(res.headers['content-type']).toBe('application/json');
        expect(res.text).toBe(await committedPageInPieces(2, after, maxRows));
      }
      const streamed = await reader.get('/sync/committed-bundles/2/rows?max_rows=2500').expect(200);
      expect(streamed.headers['transfer-encoding']).toBe('chunked');
      expect((streamed.body as { rows: unknown[]; has_more: boolean }).rows).toHaveLength(2500);
      expect((await reader.get('/sync/committed-bundles/2/rows?max_rows=1200').expect(200)).body).toMatchObject({
        next_row_ordinal: 1199,
        has_more: true,
      });
    });

    it('answers a streamed committed-rows page of an unknown bundle 404 before any byte', async () => {
      expect((await reader.get('/sync/committed-bundles/99/rows?max_rows=5000').expect(404)).text).toBe(
        '{"error":"committed_bundle_not_found","message":"committed bundle 99 was not found"}\n',
      );
    });

    it('serves bundles committed before sync.bundle_row_blocks existed (rows built per request) identically', async () => {
      const before = (await reader.get('/sync/pull?after_bundle_seq=0').expect(200)).text;
      await db.query(`DELETE FROM sync.bundle_row_blocks WHERE bundle_seq IN (2, 3)`);
      const legacy = await reader.get('/sync/pull?after_bundle_seq=0').expect(200);
      expect(legacy.headers['transfer-encoding']).toBe('chunked');
      expect(legacy.text).toBe(before);
      expect((await reader.get('/sync/pull?after_bundle_seq=2&max_bundles=1').expect(200)).text).toBe(
        await expectedBody(2, 1),
      );
      for (const [after, maxRows] of [
        [null, 2500],
        [499, 2000],
      ] as Array<[number | null, number]>) {
        const res = await reader
          .get(
            `/sync/committed-bundles/2/rows?max_rows=${maxRows}${after === null ? '' : `&after_row_ordinal=${after}`}`,
          )
          .expect(200);
        expect(res.text).toBe(await committedPageInPieces(2, after, maxRows));
      }
    });
  },
);
