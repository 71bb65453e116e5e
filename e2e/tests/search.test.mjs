// The global search: the top bar's box finds companies and persons by any word's start, with
// case and accents folded, and shows them grouped by type; a plain GET form, so the results
// page needs no script.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, signIn, startServer, step } from '../lib/harness.mjs';

const ctx = {};

describe('global search', () => {
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

  test('the top bar finds a company and a person, grouped by type', step(ctx, async () => {
    const { page } = ctx;
    const { base } = ctx.server;
    await page.goto(`${base}/demo/companies/new`);
    await page.getByLabel('Name').fill('Ålesund Fiskeri');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: 'Ålesund Fiskeri' }).waitFor();
    await page.goto(`${base}/demo/persons/new`);
    await page.getByLabel('First name').fill('Åse');
    await page.getByLabel('Last name').fill('Alstad');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: /Alstad/ }).waitFor();

    // Typed without the accent, in capitals, and submitted with Enter.
    const box = page.getByRole('search').first().getByLabel('Search everything');
    await box.fill('AL');
    await box.press('Enter');
    await page.getByRole('heading', { name: 'Search', exact: true }).waitFor();
    assert.match(page.url(), new RegExp(`^${base}/demo/search\\?q=AL$`));
    const companies = page.getByRole('region', { name: 'Companies' });
    const persons = page.getByRole('region', { name: 'Persons' });
    await companies.getByRole('link', { name: 'Ålesund Fiskeri' }).waitFor();
    await persons.getByRole('link', { name: 'Åse Alstad' }).waitFor();

    // A hit leads to its record.
    await persons.getByRole('link', { name: 'Åse Alstad' }).click();
    await page.getByRole('heading', { name: /Alstad/ }).waitFor();
    assert.match(page.url(), new RegExp(`^${base}/demo/persons/[0-9a-f-]{36}$`));

    // Nothing found says so.
    await page.goto(`${base}/demo/search?q=zzzz`);
    await page.getByText('Nothing found for “zzzz”.').waitFor();
    assert.deepEqual(page.problems, []);
  }));
});
