import { describe, expect, it } from '@jest/globals';
import { syncRouteTemplate } from './sync-route-template.js';

describe('syncRouteTemplate', () => {
  it('keeps static segments and folds ids', () => {
    expect(syncRouteTemplate('/sync/push-sessions/5f0c9a4e-2b1d-4c3e-9f00-1234567890ab/chunks')).toBe(
      '/sync/push-sessions/:id/chunks',
    );
    expect(syncRouteTemplate('/sync/committed-bundles/42/rows')).toBe('/sync/committed-bundles/:id/rows');
    expect(syncRouteTemplate('/sync/pull')).toBe('/sync/pull');
    expect(syncRouteTemplate('/syncx/health')).toBe('/syncx/health');
  });

  it('bounds what arbitrary paths can produce', () => {
    expect(syncRouteTemplate('/sync/a/b/c/d/e')).toBe('other');
    expect(syncRouteTemplate('/elsewhere/x')).toBe('other');
    expect(syncRouteTemplate('/')).toBe('other');
    expect(syncRouteTemplate('/sync/%FF')).toBe('/sync/:id');
  });
});
