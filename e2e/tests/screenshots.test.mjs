// The screenshots in docs/screenshots/: the dashboard, a company's page, the pipeline and
// the audit trail, with a little realistic data. They are rewritten only when asked:
//
//   UPDATE_SCREENSHOTS=1 e2e/run tests/screenshots.test.mjs
//
// Otherwise this file checks that the pages it would photograph render with their data.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_DIR, launchBrowser, newPage, signIn, startServer, step } from '../lib/harness.mjs';

const ctx = {};
const OUT = join(REPO_DIR, 'docs', 'screenshots');
const update = process.env.UPDATE_SCREENSHOTS === '1';

const day = 24 * 3600 * 1000;
const at = (days, hour) => {
  const d = new Date(Date.now() + days * day);
  d.setUTCHours(hour, 0, 0, 0);
  return d.toISOString().slice(0, 16);
};

async function save(page, label, fields, selects = {}) {
  for (const [name, value] of Object.entries(fields)) {
    await page.getByLabel(name, { exact: true }).fill(value);
  }
  for (const [name, value] of Object.entries(selects)) {
    await page.getByLabel(name, { exact: true }).selectOption({ label: value });
  }
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Created.').waitFor();
  return page.url().split('?')[0];
}

async function seed(page, base) {
  const companies = {};
  for (const [name, city, phone, email, web, category] of [
    ['Nordlys Shipping AS', 'Tromsø', '+47 77 60 10 00', 'post@nordlys.example', 'https://nordlys.example', 'Shipping'],
    ['Bergen Bryggeri', 'Bergen', '+47 55 30 20 10', 'hei@bryggeri.example', 'https://bryggeri.example', 'Food & drink'],
    ['Fjordkraft Solutions', 'Stavanger', '+47 51 22 33 44', 'sales@fjordkraft.example', 'https://fjordkraft.example', 'Energy'],
    ['Hansa Logistics GmbH', 'Hamburg', '+49 40 123 456', 'info@hansa.example', 'https://hansa.example', 'Logistics'],
  ]) {
    await page.goto(`${base}/demo/companies/new`);
    companies[name] = await save(page, name, {
      Name: name, City: city, Phone: phone, 'E-mail': email, Website: web, Category: category,
      'Street address': 'Strandgata 12', 'Postal code': '9008', Country: city === 'Hamburg' ? 'Germany' : 'Norway',
    });
  }
  const nordlys = companies['Nordlys Shipping AS'];
  for (const [first, last, title, email] of [
    ['Ingrid', 'Solberg', 'Head of Purchasing', 'ingrid.solberg@nordlys.example'],
    ['Magnus', 'Haugen', 'Fleet Manager', 'magnus.haugen@nordlys.example'],
  ]) {
    await page.goto(`${base}/demo/persons/new?company_id=${nordlys.split('/').pop()}`);
    await save(page, last, { 'First name': first, 'Last name': last, 'Job title': title, 'E-mail addresses': email });
  }
  const sales = [
    ['Winter charter 2027', 'Nordlys Shipping AS', '48000', 'Proposal', 60],
    ['Fleet tracking, 40 vessels', 'Nordlys Shipping AS', '125000', 'Negotiation', 75],
    ['Taproom refit', 'Bergen Bryggeri', '18500', 'Lead', 10],
    ['Seasonal distribution', 'Bergen Bryggeri', '32000', 'Qualified', 30],
    ['Grid monitoring pilot', 'Fjordkraft Solutions', '64000', 'Qualified', 40],
    ['Warehouse sensors', 'Hansa Logistics GmbH', '21000', 'Closing', 90],
    ['Port logistics study', 'Hansa Logistics GmbH', '9500', 'Lead', 15],
  ];
  for (const [title, company, amount, stage, p] of sales) {
    await page.goto(`${base}/demo/sales/new?company_id=${companies[company].split('/').pop()}`);
    await save(page, title, { Title: title, Amount: amount, 'Probability (%)': String(p) }, { Stage: stage });
  }
  const activities = [
    ['Call', 'Call Ingrid about the charter dates', 'Nordlys Shipping AS', null, at(0, 14)],
    ['Appointment', 'Site visit in Tromsø harbour', 'Nordlys Shipping AS', at(2, 9), null],
    ['Task', 'Send revised proposal', 'Nordlys Shipping AS', null, at(1, 12)],
    ['Call', 'Follow up on taproom quote', 'Bergen Bryggeri', null, at(-1, 10)],
    ['Task', 'Prepare pilot contract', 'Fjordkraft Solutions', null, at(4, 16)],
    ['Note', 'Hansa wants a demo in January', 'Hansa Logistics GmbH', null, null],
  ];
  for (const [kind, subject, company, starts, due] of activities) {
    await page.goto(`${base}/demo/activities/new?company_id=${companies[company].split('/').pop()}`);
    const fields = { Subject: subject };
    if (starts) fields.Starts = starts;
    if (due) fields.Due = due;
    await save(page, subject, fields, { Type: kind });
  }
  // A change, so the company's history has more than its creation.
  await page.goto(`${nordlys}/edit`);
  await page.getByLabel('Notes', { exact: true }).fill('Key account since 2019. Prefers calls before noon.');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved.').waitFor();
  return { nordlys };
}

describe('screenshots', () => {
  before(async () => {
    ctx.server = await startServer();
    ctx.browser = await launchBrowser();
    ctx.page = await newPage(ctx.browser, { width: 1280, height: 860 });
    await signIn(ctx.page, ctx.server.base, 'admin', ctx.server.adminPassword);
    // Failed sign-ins elsewhere, for the audit trail to show.
    const other = await newPage(ctx.browser);
    for (const [user, pw] of [['ingrid', 'guess-guess-guess'], ['admin', 'admin'], ['administrator', 'password123']]) {
      await signIn(other, ctx.server.base, user, pw);
    }
    await other.context().close();
    ctx.ids = await seed(ctx.page, ctx.server.base);
    if (update) await mkdir(OUT, { recursive: true });
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.stop();
  });

  const shot = async (name) => {
    if (update) await ctx.page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
  };

  test('dashboard', step(ctx, async () => {
    const { page } = ctx;
    await page.goto(`${ctx.server.base}/demo/`);
    assert.ok((await page.locator('#my-activities li').count()) >= 4);
    assert.match(await page.locator('#my-activities').innerText(), /Overdue/);
    await shot('dashboard');
  }));

  test('company page', step(ctx, async () => {
    const { page } = ctx;
    await page.goto(ctx.ids.nordlys);
    await page.getByRole('heading', { name: 'Nordlys Shipping AS' }).waitFor();
    await page.getByRole('link', { name: 'Ingrid Solberg' }).waitFor();
    assert.match(await page.locator('.history').innerText(), /Notes: \(empty\) → Key account/);
    await shot('company');
  }));

  test('pipeline', step(ctx, async () => {
    const { page } = ctx;
    await page.goto(`${ctx.server.base}/demo/sales/pipeline`);
    assert.equal(await page.locator('.card-item').count(), 7);
    await shot('pipeline');
  }));

  test('audit trail', step(ctx, async () => {
    const { page } = ctx;
    await page.goto(`${ctx.server.base}/demo/admin/audit?event=auth.sign_in.failed`);
    assert.match(await page.locator('table.audit').innerText(), /ingrid/);
    assert.match(await page.locator('table.audit').innerText(), /wrong_password/);
    await shot('audit');
  }));

  test('phone-sized dashboard and company page', step(ctx, async () => {
    const phone = await newPage(ctx.browser, { width: 390, height: 844 });
    await phone.context().addCookies(await ctx.page.context().cookies());
    await phone.goto(ctx.ids.nordlys);
    if (update) await phone.screenshot({ path: join(OUT, 'company-phone.png') });
    await phone.context().close();
  }));
});
