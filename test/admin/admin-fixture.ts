import request from 'supertest';
import type { TestApp } from '../support/test-app.js';

/** A bearer token with the reference app's admin role claim, from the dummy sign-in. */
export async function adminToken(t: TestApp, user = 'ops-admin'): Promise<string> {
  const res = await request(t.baseUrl)
    .post('/dummy-signin')
    .send({ user, roles: ['admin'] })
    .expect(200);
  return (res.body as { token: string }).token;
}

/** Admin API calls as one bearer (or none). */
export class AdminHttp {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
  ) {}

  get(path: string) {
    const r = request(this.baseUrl).get(`/admin/api/${path}`);
    return this.token ? r.set('Authorization', `Bearer ${this.token}`) : r;
  }

  post(path: string, body: object = {}) {
    const r = request(this.baseUrl)
      .post(`/admin/api/${path}`)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(body));
    return this.token ? r.set('Authorization', `Bearer ${this.token}`) : r;
  }
}

export const enc = encodeURIComponent;
