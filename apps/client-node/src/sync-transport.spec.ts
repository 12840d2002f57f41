import { describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { normalizeRetryPolicy } from './config.js';
import { HttpStatusError, RetryExhaustedError, TransportError } from './errors.js';
import { SyncTransport, throwIfTransientStatus, withRetry } from './sync-transport.js';

const fast = normalizeRetryPolicy({ enabled: true, maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 });

describe('retry policy', () => {
  it('normalises like the reference', () => {
    expect(normalizeRetryPolicy(null)).toEqual({
      enabled: true,
      maxAttempts: 3,
      initialBackoffMs: 100,
      maxBackoffMs: 1000,
      jitterFraction: 0.2,
    });
    expect(normalizeRetryPolicy({ enabled: false }).enabled).toBe(false);
    expect(
      normalizeRetryPolicy({
        enabled: true,
        maxAttempts: -1,
        initialBackoffMs: 500,
        maxBackoffMs: 10,
        jitterFraction: 3,
      }),
    ).toEqual({
      enabled: true,
      maxAttempts: 3,
      initialBackoffMs: 500,
      maxBackoffMs: 500,
      jitterFraction: 1,
    });
  });

  it('retries 429/502/503/504 and transient transport errors, nothing else', async () => {
    const statuses = [503, 502, 200];
    let calls = 0;
    const result = await withRetry(fast, 'pull_request', async () =>
      throwIfTransientStatus('pull_request', { status: statuses[calls++]!, body: '' }),
    );
    expect(result.status).toBe(200);
    expect(calls).toBe(3);

    calls = 0;
    const unauthorized = await withRetry(fast, 'pull_request', async () => {
      calls++;
      return throwIfTransientStatus('pull_request', { status: 401, body: 'Invalid token\n' });
    });
    expect(unauthorized.status).toBe(401);
    expect(calls).toBe(1);

    calls = 0;
    await expect(
      withRetry(fast, 'push_pending', async () => {
        calls++;
        throw new TransportError('connection reset', true, null);
      }),
    ).rejects.toThrow(new RetryExhaustedError('push_pending', 3, new TransportError('connection reset', true, null)));
    expect(calls).toBe(3);
  });

  it('makes a single attempt when disabled and surfaces the HTTP error itself', async () => {
    const error = await withRetry(normalizeRetryPolicy({ enabled: false }), 'pull_request', async () =>
      throwIfTransientStatus('pull_request', {
        status: 503,
        body: '{"error":"service_unavailable","message":"Sync service is shutting down"}',
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect((error as Error).message).toBe(
      'pull_request request returned status 503: service_unavailable: Sync service is shutting down',
    );
  });
});

// What the transport sends on the wire is checked against the real server in test/client/client-faults.e2e-spec.ts.
describe('transport', () => {
  it('classifies refused connections as transient transport errors', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const transport = new SyncTransport({
      baseUrl: `http://127.0.0.1:${port}`,
      tokenProvider: () => 't',
      requestTimeoutMs: 2000,
    });
    const error = await transport
      .send({ method: 'GET', path: '/sync/capabilities', sourceId: 's' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).transient).toBe(true);
  });
});
