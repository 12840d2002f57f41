import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/test-app.js';

// The OpenAPI document against the routes the app really registered: a new sync route without its
// success schema, its error answers or described parameters fails here.

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: { type?: string; format?: string };
}
interface Response {
  description?: string;
  content?: Record<string, { schema?: { $ref?: string; type?: string } }>;
}
interface Operation {
  parameters?: Parameter[];
  responses: Record<string, Response>;
  security?: Array<Record<string, unknown>>;
  summary?: string;
}
type Document = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; parameters?: Record<string, Parameter> };
};

interface ExpressLayer {
  route?: { path: string; methods: Record<string, boolean> };
}

/** METHOD /path/{param} of every route Express has for the sync module (its catch-all fallback aside). */
function registeredSyncRoutes(t: TestApp): string[] {
  const express = t.app.getHttpAdapter().getInstance() as { router: { stack: ExpressLayer[] } };
  const routes = new Set<string>();
  for (const layer of express.router.stack) {
    if (!layer.route || !/^\/syncx?\//.test(layer.route.path) || layer.route.path.includes('*')) continue;
    for (const method of Object.keys(layer.route.methods).filter((m) => m !== '_all')) {
      routes.add(`${method.toUpperCase()} ${layer.route.path.replace(/:(\w+)/g, '{$1}').replace(/(.)\/$/, '$1')}`);
    }
  }
  return [...routes].sort();
}

describe('OpenAPI document of the sync module', () => {
  let t: TestApp;
  let doc: Document;
  let routes: string[];

  beforeAll(async () => {
    t = await startTestApp();
    doc = (await request(t.baseUrl).get('/docs-json').expect(200)).body as Document;
    routes = registeredSyncRoutes(t);
  });
  afterAll(async () => t.close());

  const operation = (route: string): Operation => {
    const [method, path] = route.split(' ') as [string, string];
    const op = doc.paths[path]?.[method.toLowerCase()];
    if (!op) throw new Error(`${route} is registered but not in the OpenAPI document`);
    return op;
  };

  it('has every registered sync route, and no other sync path', () => {
    expect(routes.length).toBe(14);
    for (const route of routes) expect(operation(route).summary).toBeTruthy();
    const documented = Object.entries(doc.paths)
      .filter(([path]) => /^\/syncx?\//.test(path))
      .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));
    expect(documented.sort()).toEqual(routes);
  });

  it('documents each success body with its schema', () => {
    for (const route of routes) {
      const op = operation(route);
      const success = Object.keys(op.responses).filter((status) => status.startsWith('2'));
      expect({ route, success }).toEqual({ route, success: [route.startsWith('DELETE') ? '204' : '200'] });
      if (route.startsWith('DELETE')) continue;
      const content = op.responses['200']!.content ?? {};
      const schema =
        route === 'GET /sync/watch' ? content['text/event-stream']?.schema : content['application/json']?.schema;
      expect({ route, schema: schema?.$ref ?? schema?.type }).toEqual({ route, schema: expect.any(String) });
      if (schema?.$ref) expect(doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')]).toBeDefined();
    }
  });

  it('documents every error answer with the envelope schema and its codes', () => {
    for (const route of routes) {
      const op = operation(route);
      const errors = Object.entries(op.responses).filter(([status]) => Number(status) >= 400);
      const statuses = errors.map(([status]) => status);
      expect({ route, has500: statuses.includes('500') }).toEqual({ route, has500: true });
      if (route.includes(' /sync/'))
        expect({ route, statuses }).toEqual({ route, statuses: expect.arrayContaining(['401', '503']) });
      for (const [status, response] of errors) {
        const schema = response.content?.['application/json']?.schema?.$ref;
        const envelope =
          route === 'GET /syncx/health' && status === '503'
            ? '#/components/schemas/StatusResponseDto'
            : '#/components/schemas/ErrorResponseDto';
        expect({ route, status, schema }).toEqual({ route, status, schema: envelope });
        if (schema === '#/components/schemas/ErrorResponseDto')
          expect({ route, status, description: response.description }).toEqual({
            route,
            status,
            description: expect.stringMatching(/`[a-z_]+`/),
          });
      }
    }
    expect(doc.components.schemas.ErrorResponseDto).toMatchObject({ required: ['error', 'message'] });
  });

  it('types and describes every query and path parameter; the source header is one reusable parameter', () => {
    const ref = '#/components/parameters/OversyncSourceId';
    for (const route of routes) {
      const op = operation(route);
      for (const p of op.parameters ?? []) {
        if ((p as { $ref?: string }).$ref === ref) continue;
        expect({ route, name: p.name, type: p.schema?.type, described: Boolean(p.description) }).toEqual({
          route,
          name: p.name,
          type: expect.any(String),
          described: true,
        });
        expect({ route, inlineSourceHeader: p.name === 'Oversync-Source-ID' }).toEqual({
          route,
          inlineSourceHeader: false,
        });
      }
      if (route.includes(' /sync/')) {
        expect({ route, security: op.security }).toEqual({ route, security: [{ bearer: [] }] });
        expect({ route, header: op.parameters?.some((p) => (p as { $ref?: string }).$ref === ref) }).toEqual({
          route,
          header: true,
        });
      }
    }
    const header = doc.components.parameters?.OversyncSourceId;
    expect(header).toMatchObject({
      name: 'Oversync-Source-ID',
      in: 'header',
      required: true,
      schema: { type: 'string' },
    });
    expect(header!.description).toMatch(/opaque/);
    expect(header!.description).not.toMatch(/\(UUID\)/);
  });

  it('keeps the bearer token across reloads of Swagger UI (persistAuthorization)', async () => {
    const init = await request(t.baseUrl).get('/docs/swagger-ui-init.js').expect(200);
    expect(init.text).toMatch(/"persistAuthorization":\s*true/);
  });
});
