// Maintenance and the status page, as users see them: an operator announces maintenance at
// the command line; less than 24 hours ahead is refused; 25 hours ahead it shows on the
// tenant's sign-in screen in the viewer's own time zone, as a dismissible banner inside the
// app, and on the public status page.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, signIn, startServer, step } from '../lib/harness.mjs';

const ctx = {};

const hoursAhead = (h) => new Date(Date.now() + h * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');

describe('maintenance and status', () => {
  before(async () => {
    ctx.server = await startServer();
    ctx.browser = await launchBrowser();
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.stop();
  });

  test('23 hours ahead is refused, 25 hours ahead is on the sign-in screen, in the app and on /status', step(ctx, async () => {
    const { base, adminPassword, cli } = ctx.server;
    await assert.rejects(
      cli(['maintenance', 'schedule', '--start', hoursAhead(23), '--end', hoursAhead(24),
        '--summary', 'Too soon']),
      /at least 24 hours ahead/,
    );
    const start = hoursAhead(25);
    const out = await cli(['maintenance', 'schedule', '--start', start, '--end', hoursAhead(27),
      '--summary', 'Database upgrade to PostgreSQL 17', '--components', 'database,sign-in']);
    assert.match(out, /announced maintenance/);

    // The sign-in screen, seen from Oslo: the time in the viewer's zone.
    const page = await newPage(ctx.browser, { timezoneId: 'Europe/Oslo' });
    await page.goto(`${base}/demo/login`);
    const notice = page.getByRole('note').filter({ hasText: 'Database upgrade to PostgreSQL 17' });
    await notice.waitFor();
    assert.match(await notice.innerText(), /Scheduled maintenance/);
    const when = notice.locator('time').first();
    assert.equal(await when.getAttribute('datetime'), new Date(start).toISOString().replace('.000Z', '+00:00'));
    await page.waitForFunction(() => !document.querySelector('.notice time').textContent.includes('UTC'));
    assert.match(await when.innerText(), /GMT\+1|CET/);

    // Inside the app: a banner that can be dismissed and stays dismissed.
    await signIn(page, base, 'admin', adminPassword);
    const banner = page.locator('[data-notice-id]').filter({ hasText: 'Database upgrade to PostgreSQL 17' });
    await banner.waitFor();
    await banner.getByRole('button', { name: 'Dismiss this announcement' }).click();
    await banner.waitFor({ state: 'hidden' });
    await page.reload();
    await page.locator('main').waitFor();
    assert.equal(await banner.isVisible(), false, 'dismissed banner came back');

    // The public status page, without signing in.
    const visitor = await newPage(ctx.browser);
    await visitor.goto(`${base}/status`);
    await visitor.getByRole('heading', { name: 'Maintenance' }).waitFor();
    await visitor.getByRole('heading', { name: /Database upgrade to PostgreSQL 17/ }).waitFor();
    const status = await (await visitor.request.get(`${base}/status.json`)).json();
    assert.equal(status.maintenance[0].state, 'scheduled');
    assert.equal(status.maintenance[0].summary, 'Database upgrade to PostgreSQL 17');
    assert.deepEqual(page.problems, []);
    assert.deepEqual(visitor.problems, []);
    await page.context().close();
    await visitor.context().close();
  }));

  test('an administrator subscribes a webhook to status notifications and removes it', step(ctx, async () => {
    const { base, adminPassword } = ctx.server;
    const page = await newPage(ctx.browser);
    await signIn(page, base, 'admin', adminPassword);
    await page.goto(`${base}/demo/admin/security`);
    const section = page.locator('section', { has: page.getByRole('heading', { name: 'Status notifications' }) });
    // This server has no SMTP relay: e-mail is offered but cannot be chosen.
    assert.equal(await section.getByLabel(/E-mail address/).isDisabled(), true);
    await section.getByLabel('Webhook (https URL)').check();
    await section.getByLabel('Address or URL').fill('https://127.0.0.1/hook');
    await section.getByRole('button', { name: 'Subscribe' }).click();
    await page.getByRole('alert').filter({ hasText: 'private' }).waitFor();

    await section.getByLabel('Webhook (https URL)').check();
    await section.getByLabel('Address or URL').fill('https://hooks.example.com/skjold');
    await section.getByRole('button', { name: 'Subscribe' }).click();
    const shown = page.getByRole('status').filter({ hasText: 'signing secret' });
    await shown.waitFor();
    assert.match(await shown.innerText(), /whsec_/);
    await page.reload();
    assert.equal(await page.getByText(/whsec_/).count(), 0, 'the secret is shown once');
    await section.getByText('Webhook: https://hooks.example.com/skjold').waitFor();
    await section.getByRole('button', { name: 'Remove https://hooks.example.com/skjold' }).click();
    await page.waitForURL(/msg=deleted/);
    assert.equal(await page.getByText('Webhook: https://hooks.example.com/skjold').count(), 0);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }));
});
