/**
 * A device's view of the network, as a `fetch` for its client: it can go offline (connections are
 * refused), counts requests per path, and can hide the watch capability (a server without watch),
 * like the reference harness's counting proxy.
 */
import { JSON_CONTENT_TYPE } from '@oversync/protocol';
import type { FetchLike } from '../sync-transport.js';

export class SimulatedNetwork {
  online = true;
  /** Answer `GET /sync/capabilities` with `features.bundle_change_watch = false`. */
  hideWatchCapability = false;
  /** What the real server's capabilities said about watch (set once a capabilities answer passed through). */
  serverAdvertisedWatch: boolean | undefined;
  private readonly paths: string[] = [];

  readonly fetch: FetchLike = async (input, init) => {
    const path = new URL(input).pathname;
    if (!this.online) {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error(`connect ECONNREFUSED ${new URL(input).host}`), { code: 'ECONNREFUSED' }),
      });
    }
    this.paths.push(path);
    const response = await fetch(input, init);
    if (!this.hideWatchCapability || path !== '/sync/capabilities' || response.status !== 200) return response;
    const capabilities = (await response.json()) as { features?: Record<string, unknown> };
    this.serverAdvertisedWatch = capabilities.features?.bundle_change_watch === true;
    capabilities.features = { ...capabilities.features, bundle_change_watch: false };
    return new Response(JSON.stringify(capabilities), { status: 200, headers: { 'Content-Type': JSON_CONTENT_TYPE } });
  };

  /** Requests sent (while online) whose path is `path`. */
  requestCount(path: string): number {
    return this.paths.filter((sent) => sent === path).length;
  }
}
