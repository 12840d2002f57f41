import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Swagger UI at /docs in a real headless Chromium (Debian's `chromium`, never a downloaded browser).
// The screenshot lands in test-output/ (gitignored) for a human to look at.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT = join(process.cwd(), 'test-output');

describe('Swagger UI at /docs in headless Chromium', () => {
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    t = await startTestApp();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('shows every operation with its responses, and keeps the token across a reload', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${t.baseUrl}/docs`);
    await page.waitForSelector('.opblock-tag-section');
    const operations = await page.locator('.opblock').count();
    expect(operations).toBeGreaterThanOrEqual(15); // 14 sync routes + /dummy-signin

    // open the pull operation: its responses table lists the success and the error statuses
    const pull = page.locator('.opblock-get', { hasText: '/sync/pull' }).first();
    await pull.locator('.opblock-summary').click();
    await pull.locator('.responses-table').first().waitFor();
    const statuses = await pull.locator('.responses-table .response-col_status').allInnerTexts();
    expect(statuses.map((s) => s.trim())).toEqual(expect.arrayContaining(['200', '400', '401', '409', '500', '503']));
    await expect(pull.locator('.responses-table').first().innerText()).resolves.toContain('history_pruned');
    const parameters = await pull.locator('.parameters').first().innerText();
    expect(parameters).toContain('Oversync-Source-ID'); // the reusable header parameter, resolved by the UI
    expect(parameters).toContain('after_bundle_seq');

    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, 'docs.png'), fullPage: true });

    // Authorize with a token, reload: the UI still holds it (persistAuthorization)
    const token = await t.signIn('alice');
    await page.locator('.auth-wrapper .authorize').click();
    await page.locator('.modal-ux input[type=text], .modal-ux input[type=password]').first().fill(token);
    await page.locator('.modal-ux .auth-btn-wrapper .authorize').click();
    await page.locator('.modal-ux .close-modal').click();
    await page.reload();
    await page.waitForSelector('.opblock-tag-section');
    // evaluated in the browser page, where localStorage exists (not in this file's Node lib)
    const stored = await page.evaluate("localStorage.getItem('authorized')");
    expect(stored).toContain(token);
    await expect(page.locator('.auth-wrapper .authorize').getAttribute('class')).resolves.toContain('locked');
    await page.close();
  }, 60_000);
});
