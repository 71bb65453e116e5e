// Activities and sales: log a call from a company's page, see it on the dashboard and mark
// it done; create a sale and move it through the pipeline, with and without JavaScript.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, signIn, startServer, step } from '../lib/harness.mjs';

const ctx = {};

async function column(page, stage) {
  return page.locator('.board-col', { has: page.getByRole('heading', { name: new RegExp(`^${stage}`) }) });
}

describe('activities and sales', () => {
  before(async () => {
    ctx.server = await startServer();
    ctx.browser = await launchBrowser();
    ctx.page = await newPage(ctx.browser);
    await signIn(ctx.page, ctx.server.base, 'admin', ctx.server.adminPassword);
    const { page } = ctx;
    await page.goto(`${ctx.server.base}/demo/companies/new`);
    await page.getByLabel('Name').fill('Hansa Logistics');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: 'Hansa Logistics' }).waitFor();
    ctx.companyUrl = page.url().split('?')[0];
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.stop();
  });

  test("log a call from the company's page", step(ctx, async () => {
    const { page } = ctx;
    await page.goto(ctx.companyUrl);
    await page.getByRole('link', { name: 'Log activity' }).first().click();
    assert.equal(await page.getByLabel('Type').locator('option:checked').innerText(), 'Call');
    assert.equal(await page.getByLabel('Company').locator('option:checked').innerText(), 'Hansa Logistics');
    // An appointment needs a start: the server says so, beside the field.
    await page.getByLabel('Type').selectOption({ label: 'Appointment' });
    await page.getByLabel('Subject').fill('Quarterly review');
    await page.getByRole('button', { name: 'Save' }).click();
    const starts = page.locator('.field', { has: page.getByLabel('Starts') });
    assert.match(await starts.locator('.field-error').innerText(), /needs a start time/);
    // A call, due yesterday: overdue.
    await page.getByLabel('Type').selectOption({ label: 'Call' });
    await page.getByLabel('Subject').fill('Call about the renewal');
    const yesterday = new Date(Date.now() - 24 * 3600 * 1000).toISOString().slice(0, 16);
    await page.getByLabel('Due').fill(yesterday);
    await page.getByLabel('Notes').fill('Ask about volumes for next year.');
    await page.getByRole('button', { name: 'Save' }).click();
    // Back on the company's page, which lists it.
    await page.waitForURL(`${ctx.companyUrl}?msg=created`);
    await page.getByText('Created.').waitFor();
    const activities = page.locator('section', { has: page.getByRole('heading', { name: 'Activities' }) });
    await activities.getByRole('link', { name: 'Call about the renewal' }).waitFor();
  }));

  test('the dashboard shows my open activity; Done takes it off', step(ctx, async () => {
    const { page } = ctx;
    const { base } = ctx.server;
    await page.goto(`${base}/demo/`);
    const mine = page.locator('#my-activities');
    const item = mine.getByRole('listitem').filter({ hasText: 'Call about the renewal' });
    await item.waitFor();
    assert.match(await item.innerText(), /Overdue/);
    assert.match(await item.innerText(), /Hansa Logistics/);
    // Recently changed lists the company and the activity.
    const recent = await page.locator('.recent-list').innerText();
    assert.match(recent, /Call about the renewal/);
    assert.match(recent, /Hansa Logistics/);
    await item.getByRole('button', { name: /Done/ }).click();
    await page.getByText('Nothing to do. Well done.').waitFor();
    // The activity page says it is done, and the history says who did it.
    await page.goto(`${base}/demo/activities`);
    await page.getByRole('link', { name: 'Call about the renewal' }).click();
    assert.match(await page.locator('.facts').innerText(), /Done\s+Yes/);
    assert.match(await page.locator('.history').innerText(), /Done: No → Yes/);
  }));

  test('create a sale and move it through the pipeline', step(ctx, async () => {
    const { page } = ctx;
    const { base } = ctx.server;
    await page.goto(ctx.companyUrl);
    const sales = page.locator('section', { has: page.getByRole('heading', { name: 'Sales' }) });
    await sales.getByRole('link', { name: 'New sale' }).click();
    await page.getByLabel('Title').fill('Fleet tracking, 40 trucks');
    await page.getByLabel('Amount').fill('12,500');
    await page.getByRole('button', { name: 'Save' }).click();
    const amount = page.locator('.field', { has: page.getByLabel('Amount') });
    assert.match(await amount.locator('.field-error').innerText(), /decimal/);
    await page.getByLabel('Amount').fill('12500');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(`${ctx.companyUrl}?msg=created`);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sales' }).click();
    await page.getByRole('link', { name: 'Fleet tracking, 40 trucks' }).waitFor();
    assert.match(await page.locator('#results').innerText(), /12,500\.00\sEUR/);
    await page.goto(`${base}/demo/sales/pipeline`);
    const lead = await column(page, 'Lead');
    const card = lead.locator('.card-item', { hasText: 'Fleet tracking' });
    await card.waitFor();
    assert.match(await card.innerText(), /Hansa Logistics/);
    // Move: htmx redraws the board in place.
    await card.getByLabel('Move to').selectOption({ label: 'Proposal' });
    await card.getByRole('button', { name: 'Move' }).click();
    const proposal = await column(page, 'Proposal');
    await proposal.locator('.card-item', { hasText: 'Fleet tracking' }).waitFor();
    assert.equal(await lead.locator('.card-item').count(), 0);
    assert.equal(new URL(page.url()).pathname, '/demo/sales/pipeline');
    assert.deepEqual(page.problems, []);
  }));

  test('the pipeline works without JavaScript; a won sale leaves the board', step(ctx, async () => {
    const { base } = ctx.server;
    const context = await ctx.browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false });
    await context.addCookies(await ctx.page.context().cookies());
    const page = await context.newPage();
    await page.goto(`${base}/demo/sales/pipeline`);
    const proposal = await column(page, 'Proposal');
    const card = proposal.locator('.card-item', { hasText: 'Fleet tracking' });
    await card.getByLabel('Move to').selectOption({ label: 'Negotiation' });
    await card.getByRole('button', { name: 'Move' }).click();
    await page.waitForURL(/\/demo\/sales\/pipeline\?msg=moved/);
    await page.getByText('Sale moved.').waitFor();
    const negotiation = await column(page, 'Negotiation');
    const moved = negotiation.locator('.card-item', { hasText: 'Fleet tracking' });
    await moved.waitFor();
    await moved.getByLabel('Move to').selectOption({ label: 'Won' });
    await moved.getByRole('button', { name: 'Move' }).click();
    await page.getByText('Closed: 1 won, 0 lost.').waitFor();
    assert.equal(await page.locator('.card-item', { hasText: 'Fleet tracking' }).count(), 0);
    // The sale's page tells its story.
    await page.goto(`${base}/demo/sales`);
    await page.getByRole('link', { name: 'Fleet tracking, 40 trucks' }).click();
    const history = await page.locator('.history').innerText();
    assert.match(history, /Stage: Lead → Proposal/);
    assert.match(history, /Stage: Proposal → Negotiation/);
    assert.match(history, /Status: Open → Won/);
    await context.close();
  }));
});
