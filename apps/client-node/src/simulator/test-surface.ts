/**
 * The reference app's auxiliary routes (spec/server.md §3.14), enabled by
 * `OVERSYNC_TEST_ENDPOINTS=true`: reset, retention floor, watch subscriber count, failure injection.
 */

import { JSON_CONTENT_TYPE } from '@oversync/protocol';
import type { InjectableEndpoint } from '@oversync/protocol';

export interface TestSurfaceFeatures {
  /** `/test/reset`, `/test/retention-floor`, `/test/watch-subscribers` */
  readonly testEndpoints: boolean;
  /** `/test/failures` */
  readonly failureInjection: boolean;
}

export class TestSurface {
  constructor(private readonly baseUrl: string) {}

  /** Which parts of the surface the server exposes (probed with harmless reads). */
  async features(): Promise<TestSurfaceFeatures> {
    const answers = async (path: string) => (await fetch(`${this.baseUrl}${path}`).catch(() => null))?.status === 200;
    return {
      testEndpoints: await answers('/test/watch-subscribers?user_id=simulator-probe'),
      failureInjection: await answers('/test/failures'),
    };
  }

  /** Drops and recreates the sync and business schemas. */
  async reset(): Promise<void> {
    await this.call('POST', '/test/reset', {});
  }

  /** Marks the user's history up to `floor` as pruned (pulls from below it get `history_pruned`). */
  async setRetentionFloor(user: string, floor: number): Promise<void> {
    await this.call('POST', '/test/retention-floor', { user_id: user, retained_bundle_floor: floor });
  }

  /** This server process's open watch streams of `user`. */
  async watchSubscribers(user: string): Promise<number> {
    const body = await this.call('GET', `/test/watch-subscribers?user_id=${encodeURIComponent(user)}`);
    return Number(body.subscriber_count);
  }

  /** The next `count` calls of `endpoint` answer `status` with `injected_failure`. */
  async armFailure(endpoint: InjectableEndpoint, count: number, status: number): Promise<void> {
    await this.call('POST', '/test/failures', { endpoint, count, status });
  }

  /** Armed failures not yet consumed, per endpoint. */
  async pendingFailures(): Promise<Record<string, number>> {
    return (await this.call('GET', '/test/failures')).pending as Record<string, number>;
  }

  async clearFailures(): Promise<void> {
    await this.call('DELETE', '/test/failures');
  }

  private async call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: object): Promise<Record<string, unknown>> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: body ? { 'Content-Type': JSON_CONTENT_TYPE } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`${method} ${path} returned ${response.status}: ${text.trim()}`);
    return JSON.parse(text) as Record<string, unknown>;
  }
}
