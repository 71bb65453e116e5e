// The CRM screens: companies and persons created, edited and deleted through forms, with the
// server's validation messages beside the field; search-as-you-type; linked records and
// history on a company's page.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, signIn, startServer, step } from '../lib/harness.mjs';

const ctx = {};

describe('companies and persons', () => {
  before(async () => {
    ctx.server = await startServer();
    ctx.browser = await launchBrowser();
    ctx.page = await newPage(ctx.browser);
    await signIn(ctx.page, ctx.server.base, 'admin', ctx.server.adminPassword);
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.stop();
  });

  test('create a company, with a validation message first', step(ctx, async () => {
    const { page } = ctx;
    const { base } = ctx.server;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Companies' }).click();
    await page.getByText('No companies yet.').waitFor();
    await page.getByRole('link', { name: 'New company' }).click();
    await page.getByLabel('Name').fill('Acme Shipping');
    await page.getByLabel('City').fill('Bergen');
    await page.getByLabel('Website').fill('ftp://acme.example');
    await page.getByLabel('E-mail').fill('post@acme');
    await page.getByRole('button', { name: 'Save' }).click();

    // The server's messages, beside the fields at fault; what was typed is kept.
    const website = page.locator('.field', { has: page.getByLabel('Website') });
    assert.match(await website.locator('.field-error').innerText(), /http:\/\/ or https:\/\//);
    const email = page.locator('.field', { has: page.getByLabel('E-mail') });
    assert.match(await email.locator('.field-error').innerText(), /not a valid e-mail address/);
    assert.equal(await page.getByLabel('Website').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel('Name').inputValue(), 'Acme Shipping');

    await page.getByLabel('Website').fill('https://acme.example');
    await page.getByLabel('E-mail').fill('post@acme.example');
    await page.getByLabel('Phone').fill('+47 55 12 34 56');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: 'Acme Shipping' }).waitFor();
    await page.getByText('Created.').waitFor();
    assert.match(page.url(), new RegExp(`^${base}/demo/companies/[0-9a-f-]{36}\\?msg=created$`));
    ctx.companyUrl = page.url().split('?')[0];
    const facts = page.locator('.facts');
    assert.match(await facts.innerText(), /Bergen/);
    assert.equal(await facts.getByRole('link', { name: 'post@acme.example' }).getAttribute('href'), 'mailto:post@acme.example');
    // History shows the creation, by whom.
    assert.match(await page.locator('.history').innerText(), /Created by admin/);
    assert.deepEqual(page.problems, []);
  }));

  test('edit a company; the history shows the change', step(ctx, async () => {
    const { page } = ctx;
    await page.goto(ctx.companyUrl);
    await page.getByRole('link', { name: 'Edit' }).click();
    assert.equal(await page.getByLabel('City').inputValue(), 'Bergen');
    await page.getByLabel('City').fill('Oslo');
    await page.getByLabel('Notes').fill('Key account.\nCall before noon.');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    assert.match(await page.locator('.facts').innerText(), /Oslo/);
    assert.match(await page.locator('.notes').innerText(), /Call before noon/);
    const history = await page.locator('.history').innerText();
    assert.match(history, /Changed by admin/);
    assert.match(history, /City: Bergen → Oslo/);
  }));

  test('create a person at the company, from its page', step(ctx, async () => {
    const { page } = ctx;
    await page.goto(ctx.companyUrl);
    const persons = page.locator('section', { has: page.getByRole('heading', { name: 'Persons' }) });
    await persons.getByRole('link', { name: 'New person' }).click();
    // The company is chosen already.
    assert.equal(
      await page.getByLabel('Company').locator('option:checked').innerText(),
      'Acme Shipping',
    );
    await page.getByLabel('First name').fill('Åse');
    await page.getByRole('button', { name: 'Save' }).click();
    // Last name is required: the message says so, beside it.
    const last = page.locator('.field', { has: page.getByLabel('Last name') });
    assert.match(await last.locator('.field-error').innerText(), /must not be empty/);
    await page.getByLabel('Last name').fill('Nordmann-Berg');
    await page.getByLabel('Job title').fill('Head of Purchasing');
    await page.getByLabel('E-mail addresses').fill('ase@acme.example\nase.berg@example.com');
    await page.getByRole('button', { name: 'Save' }).click();
    // Back on the company's page, with the person listed.
    await page.waitForURL(`${ctx.companyUrl}?msg=created`);
    await persons.getByRole('link', { name: 'Åse Nordmann-Berg' }).click();
    await page.getByRole('heading', { name: 'Åse Nordmann-Berg' }).waitFor();
    ctx.personUrl = page.url().split('?')[0];
    const facts = await page.locator('.facts').innerText();
    assert.match(facts, /Acme Shipping/);
    assert.match(facts, /ase@acme\.example, ase\.berg@example\.com/);
  }));

  test('edit a person', step(ctx, async () => {
    const { page } = ctx;
    await page.goto(ctx.personUrl);
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByLabel('Phone numbers').fill('+47 900 00 000');
    await page.getByLabel('Job title').fill('Purchasing Director');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    const facts = await page.locator('.facts').innerText();
    assert.match(facts, /Purchasing Director/);
    assert.match(facts, /\+47 900 00 000/);
  }));

  test('search as you type finds a company in two keystrokes', step(ctx, async () => {
    const { page } = ctx;
    const { base } = ctx.server;
    for (const name of ['Bergen Bryggeri', 'Nordic Fish AS']) {
      await page.goto(`${base}/demo/companies/new`);
      await page.getByLabel('Name').fill(name);
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Created.').waitFor();
    }
    await page.goto(`${base}/demo/companies`);
    const rows = page.locator('#results tbody tr');
    assert.equal(await rows.count(), 3);
    // Typing, not submitting: htmx asks the server and swaps only the results.
    await page.getByLabel('Search companies').pressSequentially('no', { delay: 50 });
    await page.waitForFunction(() => document.querySelectorAll('#results tbody tr').length === 1);
    assert.equal(await rows.first().getByRole('link').first().innerText(), 'Nordic Fish AS');
    // The address follows, so the search can be shared and survives a reload.
    await page.waitForURL(/q=no/);
    await page.reload();
    assert.equal(await rows.count(), 1);
    assert.equal(await page.getByLabel('Search companies').inputValue(), 'no');
    // Nothing matches: says so.
    await page.getByLabel('Search companies').fill('zzz');
    await page.getByText('No companies match.').waitFor();
    // Persons are found by the start of any word, e-mail addresses whole.
    await page.goto(`${base}/demo/persons?q=${encodeURIComponent('ase.berg@example.com')}`);
    assert.equal(await page.locator('#results tbody tr').count(), 1);
  }));

  test('the list sorts by name or by time, and the order survives paging and reload', step(ctx, async () => {
    const { page } = ctx;
    const { base } = ctx.server;
    await page.goto(`${base}/demo/companies`);
    const firstName = () => page.locator('#results tbody tr').first().getByRole('link').first().innerText();
    assert.equal(await firstName(), 'Acme Shipping');
    // Choosing an order applies at once (htmx), and the address keeps it.
    await page.getByLabel('Sort by').selectOption({ label: 'Name, Z to A' });
    await page.waitForURL(/sort=-name/);
    await page.waitForFunction(() => document.querySelector('#results tbody tr a')?.innerText === 'Nordic Fish AS');
    await page.getByLabel('Sort by').selectOption({ label: 'Newest' });
    await page.waitForURL(/sort=-created/);
    await page.waitForFunction(() => document.querySelector('#results tbody tr a')?.innerText === 'Nordic Fish AS');
    await page.reload();
    assert.equal(await firstName(), 'Nordic Fish AS');
    assert.equal(await page.getByLabel('Sort by').inputValue(), '-created');
  }));

  test('search works without JavaScript too', step(ctx, async () => {
    const { base } = ctx.server;
    const context = await ctx.browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false });
    await context.addCookies(await ctx.page.context().cookies());
    const page = await context.newPage();
    await page.goto(`${base}/demo/companies`);
    await page.getByLabel('Search companies').fill('berg');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=berg/);
    assert.equal(await page.locator('#results tbody tr').count(), 1);
    assert.equal(await page.locator('#results tbody tr a').first().innerText(), 'Bergen Bryggeri');
    await context.close();
  }));

  test('the list downloads as CSV with its search, every page of it', step(ctx, async () => {
    const { page } = ctx;
    const { base } = ctx.server;
    await page.goto(`${base}/demo/companies?q=berg`);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'CSV' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /^companies-demo-\d{8}T\d{6}Z\.csv$/);
    const fs = await import('node:fs/promises');
    const text = await fs.readFile(await download.path(), 'utf8');
    const lines = text.trim().split('\n');
    assert.match(lines[0], /^id,name,/);
    assert.equal(lines.length, 2, text);
    assert.match(lines[1], /Bergen Bryggeri/);
    // The download is in the audit trail, with what was searched.
    await page.goto(`${base}/demo/admin/audit?event=records.exported`);
    assert.match(await page.locator('#results, main').first().innerText(), /records\.exported/);
  }));

  test('delete asks first; linked records need a second decision', step(ctx, async () => {
    const { page } = ctx;
    const { base } = ctx.server;
    // A person alone goes after one confirmation.
    await page.goto(`${base}/demo/persons/new`);
    await page.getByLabel('Last name').fill('Temporary');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: 'Temporary' }).waitFor();
    await page.getByRole('link', { name: 'Delete' }).click();
    await page.getByRole('heading', { name: /Delete person “Temporary”\?/ }).waitFor();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Deleted.').waitFor();
    assert.equal(new URL(page.url()).pathname, '/demo/persons');
    assert.equal(await page.getByRole('link', { name: 'Temporary' }).count(), 0);

    // The company has a person: refused with the reason, then deleted with its links.
    await page.goto(ctx.companyUrl);
    await page.getByRole('link', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    const alert = page.getByRole('alert');
    assert.match(await alert.innerText(), /has linked records \(1 person\)/);
    await page.getByLabel('Also delete the linked records').check();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Deleted.').waitFor();
    await page.goto(ctx.companyUrl);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await page.goto(ctx.personUrl);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    assert.match(await page.locator('.meta').innerText(), /Request id [0-9a-f]{32}/);
  }));
});
