import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { JSON_CONTENT_TYPE, type InjectableEndpoint } from '@oversync/protocol';

export function endpointOf(method: string, path: string): InjectableEndpoint | undefined {
  if (method === 'POST' && path === '/sync/connect') return 'connect';
  if (method === 'POST' && path === '/sync/push-sessions') return 'push_session_create';
  if (method === 'POST' && /^\/sync\/push-sessions\/[^/]+\/chunks$/.test(path)) return 'push_session_chunk';
  if (method === 'POST' && /^\/sync\/push-sessions\/[^/]+\/commit$/.test(path)) return 'push_session_commit';
  if (method === 'GET' && path === '/sync/pull') return 'pull';
  if (method === 'POST' && path === '/sync/snapshot-sessions') return 'snapshot_create';
  if (method === 'GET' && /^\/sync\/snapshot-sessions\/[^/]+$/.test(path)) return 'snapshot_chunk';
  if (method === 'GET' && path === '/sync/capabilities') return 'capabilities';
  if (method === 'GET' && /^\/sync\/committed-bundles\/[^/]+\/rows$/.test(path)) return 'committed_bundle_rows';
  return undefined;
}

interface Armed {
  remaining: number;
  status: number;
}

/**
 * Answers the next N calls of an endpoint with `{"error":"injected_failure",…}`, so client retry paths can be tested.
 */
@Injectable()
export class FailureInjector implements NestMiddleware {
  private readonly armed = new Map<InjectableEndpoint, Armed>();

  arm(endpoint: InjectableEndpoint, count: number, status: number): void {
    if (count <= 0) this.armed.delete(endpoint);
    else this.armed.set(endpoint, { remaining: count, status });
  }

  clear(): void {
    this.armed.clear();
  }

  pending(): Record<string, number> {
    return Object.fromEntries([...this.armed].map(([endpoint, armed]) => [endpoint, armed.remaining]));
  }

  /** Middleware on Node's request and response, as both Express and Fastify hand them to it. */
  use(req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: () => void): void {
    // nothing armed (every request of a run that does not inject): no path matching
    if (this.armed.size === 0) return next();
    const endpoint = endpointOf(req.method ?? '', (req.originalUrl ?? req.url ?? '').split('?')[0] ?? '');
    const armed = endpoint && this.armed.get(endpoint);
    if (!endpoint || !armed) return next();
    armed.remaining--;
    if (armed.remaining <= 0) this.armed.delete(endpoint);
    res.statusCode = armed.status;
    res.setHeader('Content-Type', JSON_CONTENT_TYPE);
    res.end(`${JSON.stringify({ error: 'injected_failure', message: `injected ${endpoint} failure` })}\n`);
  }
}
