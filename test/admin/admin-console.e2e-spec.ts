/**
 * The admin console in a real browser (Debian's Chromium through playwright-core) against the
 * reference app, with sync state made by real devices (@oversync/client-node on SQLite) and a real
 * conflicting HTTP push. Screenshots of every page land in test-output/admin/.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { OversqliteClient } from '@oversync/client-node';
import { EXAMPLE_DEVICE_DDL, EXAMPLE_TABLES } from '../../apps/client-node/src/example-schema.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { SyncHttp } from '../support/sync-http.js';
import { adminToken } from './admin-fixture.js';

const SHOTS = join(process.cwd(), 'test-output', 'admin');
const USER = 'carla';

interface Device {
  db: Database.Database;
  client: OversqliteClient;
  sourceId: string;
}

describe('admin console in Chromium', () => {
  let t: TestApp;
  let db: pg.Client;
  let browser: Browser;
  let page: Page;
  let dir: string;
  const devices: Device[] = [];
  const problems: string[] = [];
  let phone: Device;
  let laptop: Device;
  let rowId: string;

  async function device(): Promise<Device> {
    const file = new Database(join(dir, `${randomUUID()}.sqlite`));
    file.exec(EXAMPLE_DEVICE_DDL);
    const client = await OversqliteClient.open(file, {
      baseUrl: t.baseUrl,
      tokenProvider: () => t.signIn(USER),
      schema: 'business',
      tables: EXAMPLE_TABLES,
    });
    const created = { db: file, client, sourceId: '' };
    devices.push(created);
    return created;
  }

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'oversync-admin-'));
    t = await startTestApp();
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();

    // A phone seeds the scope; a laptop joins from a snapshot, edits, syncs; the phone pushes 3 more
    // bundles and pulls them back: the laptop is then 3 bundles behind.
    phone = await device();
    rowId = randomUUID();
    phone.db.prepare('INSERT INTO users (id, name, email) VALUES (?, ?, ?)').run(rowId, 'Carla', 'carla@example.com');
    await phone.client.attach(USER);
    expect((await phone.client.pushPending()).outcome).toBe('committed');
    laptop = await device();
    await laptop.client.attach(USER);
    laptop.db.prepare('UPDATE users SET name = ? WHERE id = ?').run('Carla M.', rowId);
    await laptop.client.sync();
    await phone.client.sync();
    for (let i = 0; i < 3; i++) {
      phone.db
        .prepare('INSERT INTO users (id, name, email) VALUES (?, ?, ?)')
        .run(randomUUID(), `friend ${i}`, `f${i}@example.com`);
      expect((await phone.client.pushPending()).outcome).toBe('committed');
    }
    await phone.client.sync();
    phone.sourceId = (await phone.client.sourceInfo()).currentSourceId;
    laptop.sourceId = (await laptop.client.sourceInfo()).currentSourceId;

    // A tablet pushes an update of the first row from a stale version: 409 push_conflict.
    const tablet = new SyncHttp(t.baseUrl, await t.signIn(USER), 'carla-tablet');
    const stale = await tablet.push(1, [
      {
        schema: 'business',
        table: 'users',
        key: { id: rowId },
        op: 'UPDATE',
        base_row_version: 1,
        payload: { id: rowId, name: 'Carla from the tablet', email: 'carla@example.com' },
      },
    ]);
    expect(stale.status).toBe(409);

    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    page.on('console', (message) => {
      // the refusals the suite provokes (401, 403, 400) are logged by Chromium as failed loads
      if (message.type() === 'error' && !/status of 40[013] /.test(message.text()))
        problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('request', (request) => {
      if (!request.url().startsWith(t.baseUrl)) problems.push(`request outside the server: ${request.url()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    for (const d of devices) {
      await d.client.close();
      d.db.close();
    }
    await db?.end();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks for a token (the page answers 401 without the admin guard) and signs in with an admin token', async () => {
    const response = await page.goto(`${t.baseUrl}/admin`);
    expect(response?.status()).toBe(401);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot('01-sign-in');
    // a token without the admin role is refused in the page, with the reason shown
    await page.getByLabel('Bearer token').fill(await t.signIn('mallory'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('403: admin role required').waitFor();
    await page.getByLabel('Bearer token').fill(await adminToken(t, 'ops-anna'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.locator('[data-counter="commits"]').waitFor();
  });

  it('finds the user made by the devices and opens a source: the laptop is 3 bundles behind', async () => {
    await page.getByLabel('User id prefix').fill('car');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: USER, exact: true }).waitFor();
    await expect(page.locator('table.users tbody tr').count()).resolves.toBe(1);
    await shot('02-users');
    await page.getByRole('link', { name: USER, exact: true }).click();
    const laptopRow = page.locator(`tr[data-source="${laptop.sourceId}"]`);
    await laptopRow.waitFor();
    expect(await laptopRow.locator('td.lag').getAttribute('data-lag')).toBe('3');
    expect(await page.locator(`tr[data-source="${phone.sourceId}"] td.lag`).getAttribute('data-lag')).toBe('0');
    // let the counters poll twice so that a rate shows
    await page.waitForTimeout(2500);
    await shot('03-user-sources');
  });

  it('retires the laptop through the page after confirming; PostgreSQL has it retired and the audit row', async () => {
    await page.locator(`tr[data-source="${laptop.sourceId}"]`).getByRole('button', { name: 'Retire' }).click();
    const dialog = page.locator('dialog#confirm');
    await dialog.waitFor();
    await page.getByLabel('Replacement source id').fill('carla-laptop-rebuilt');
    await shot('04-retire-confirm');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText(`Source ${laptop.sourceId} retired, replaced by carla-laptop-rebuilt.`).waitFor();
    await page.locator(`tr[data-source="${laptop.sourceId}"] .badge-retired`).waitFor();
    const { rows } = await db.query(
      `SELECT ss.state, ss.replaced_by_source_id FROM sync.source_state ss JOIN sync.user_state us USING (user_pk)
        WHERE us.user_id = $1 AND ss.source_id = $2`,
      [USER, laptop.sourceId],
    );
    expect(rows).toEqual([{ state: 'retired', replaced_by_source_id: 'carla-laptop-rebuilt' }]);
    const audit = await db.query(
      `SELECT admin_id, action, user_id, target, detail::jsonb AS detail FROM sync.admin_audit`,
    );
    expect(audit.rows).toEqual([
      {
        admin_id: 'ops-anna',
        action: 'retire_source',
        user_id: USER,
        target: laptop.sourceId,
        detail: { previous_state: 'active', replaced_by_source_id: 'carla-laptop-rebuilt' },
      },
    ]);
    await shot('05-retired');
  });

  it('shows a refused repair as an error in the page and changes nothing', async () => {
    await page.getByLabel('New retained floor').fill('999');
    await page.getByRole('button', { name: 'Raise floor' }).click();
    await page.locator('dialog#confirm').getByRole('button', { name: 'Confirm' }).click();
    await page
      .getByText('400 admin_floor_invalid: retained floor must be above 0 and at most the latest bundle_seq 5')
      .waitFor();
    expect(
      (await db.query(`SELECT retained_bundle_floor::int AS floor FROM sync.user_state WHERE user_id = $1`, [USER]))
        .rows,
    ).toEqual([{ floor: 0 }]);
  });

  it('shows the conflicting push in the rejected-writes log: source, rows sent, answer', async () => {
    await page.getByRole('link', { name: 'Rejected writes' }).click();
    const conflict = page.locator('article.rejection[data-code="push_conflict"]');
    await conflict.waitFor();
    await expect(conflict.locator('header').textContent()).resolves.toContain('carla-tablet');
    await expect(conflict.textContent()).resolves.toContain('Carla from the tablet');
    await expect(conflict.textContent()).resolves.toContain(`update conflict on business.users ${rowId}`);
    await shot('06-rejected-writes');
  });

  it('opens a bundle and shows its hash recomputed and verified, then the audit log', async () => {
    await page.getByRole('link', { name: 'Bundles' }).click();
    await page.getByRole('link', { name: '2', exact: true }).click();
    await page.getByText('hash verified').waitFor();
    await expect(page.locator('table tbody tr').count()).resolves.toBe(1);
    await shot('07-bundle');
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('cell', { name: 'retire_source' }).waitFor();
    await shot('08-audit');
    // the live counters follow a device's push within a poll or two
    phone.db
      .prepare('INSERT INTO users (id, name, email) VALUES (?, ?, ?)')
      .run(randomUUID(), 'late', 'late@example.com');
    expect((await phone.client.pushPending()).outcome).toBe('committed');
    await page.locator('[data-counter="bundles"] strong', { hasText: /^6$/ }).waitFor({ timeout: 10_000 });
    expect(problems).toEqual([]);
  });
});
