// Custom roles and record visibility in the browser: an administrator creates a role that
// may only read companies and sees only its holder's own, gives it to a user; that user sees
// only their own companies, no edit buttons, no other sections, and a forged POST gets 403.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, rawPost, signIn, startServer, step } from '../lib/harness.mjs';

const ctx = {};

async function newCompany(page, base, name) {
  await page.goto(`${base}/demo/companies/new`);
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('heading', { name }).waitFor();
  return page.url().split('?')[0];
}

describe('custom roles and visibility', () => {
  before(async () => {
    ctx.server = await startServer();
    ctx.browser = await launchBrowser();
    ctx.admin = await newPage(ctx.browser);
    await signIn(ctx.admin, ctx.server.base, 'admin', ctx.server.adminPassword);
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.stop();
  });

  test('an administrator creates a role: companies.read only, own records', step(ctx, async () => {
    const { admin } = ctx;
    const { base } = ctx.server;
    await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
    await admin.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Roles' }).click();
    await admin.getByRole('heading', { name: 'Roles', exact: true }).waitFor();
    await admin.getByLabel('Name', { exact: true }).fill('Company viewer');
    await admin.getByLabel('Description').fill('Reads own companies');
    await admin.getByRole('checkbox', { name: 'Companies: read' }).check();
    await admin.getByRole('radio', { name: 'own records', exact: true }).check();
    await admin.getByRole('button', { name: 'Create role' }).click();
    await admin.getByRole('heading', { name: 'Company viewer' }).waitFor();
    assert.equal(await admin.getByRole('checkbox', { name: 'Companies: read' }).isChecked(), true);
    assert.equal(await admin.getByRole('checkbox', { name: 'Companies: write' }).isChecked(), false);
    assert.equal(await admin.getByRole('radio', { name: 'own records', exact: true }).isChecked(), true);
    assert.deepEqual(admin.problems, []);

    // Someone else's company, and one that will be the viewer's.
    ctx.othersUrl = await newCompany(admin, base, 'Admins Harbour');
  }));

  test('the role is given to a user on their page', step(ctx, async () => {
    const { admin } = ctx;
    const { base } = ctx.server;
    await ctx.server.addUser('vera', 'user', 'quiet-library-19');
    await admin.goto(`${base}/demo/admin/users`);
    await admin.getByRole('link', { name: 'vera' }).click();
    await admin.getByLabel('Role', { exact: true }).selectOption({ label: 'Company viewer' });
    await admin.getByRole('button', { name: 'Save' }).click();
    await admin.waitForLoadState('load');
    assert.equal(
      await admin.getByLabel('Role', { exact: true }).locator('option:checked').innerText(),
      'Company viewer',
    );
    // Vera's own company: the administrator makes it and hands it to her.
    ctx.ownUrl = await newCompany(admin, base, 'Veras Fjord');
    await admin.goto(`${ctx.ownUrl}/edit`);
    await admin.getByLabel('Owner').selectOption({ label: 'vera' });
    await admin.getByRole('button', { name: 'Save' }).click();
    await admin.getByText('Saved.').waitFor();
  }));

  test('the user sees only her own companies, no edit buttons, and a forged POST gets 403', step(ctx, async () => {
    const { base } = ctx.server;
    const vera = await newPage(ctx.browser);
    await signIn(vera, base, 'vera', 'quiet-library-19');
    const nav = vera.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Companies' }).waitFor();
    for (const name of ['Persons', 'Activities', 'Sales', 'Admin']) {
      assert.equal(await nav.getByRole('link', { name }).count(), 0, `the nav offers ${name}`);
    }
    await nav.getByRole('link', { name: 'Companies' }).click();
    await vera.getByRole('link', { name: 'Veras Fjord' }).waitFor();
    assert.equal(await vera.getByRole('link', { name: 'Admins Harbour' }).count(), 0);
    // Search does not find it either, and its address is "not found".
    await vera.goto(`${base}/demo/companies?q=admins`);
    assert.equal(await vera.getByRole('link', { name: 'Admins Harbour' }).count(), 0);
    const hidden = await vera.goto(ctx.othersUrl);
    assert.equal(hidden.status(), 404);

    for (const url of [`${base}/demo/`, `${base}/demo/companies`, ctx.ownUrl]) {
      await vera.goto(url);
      for (const name of ['New company', 'Edit', 'Delete', 'Log activity', 'New person', 'New sale']) {
        assert.equal(
          await vera.getByRole('link', { name, exact: true }).or(vera.getByRole('button', { name, exact: true })).count(),
          0,
          `${url} offers "${name}"`,
        );
      }
    }
    assert.equal((await vera.goto(`${ctx.ownUrl}/edit`)).status(), 403);
    assert.equal((await vera.goto(`${base}/demo/persons`)).status(), 403);

    await vera.goto(`${base}/demo/companies`);
    const token = await vera.locator('input[name="csrf_token"]').first().inputValue();
    for (const [url, fields] of [
      [`${base}/demo/companies`, { csrf_token: token, name: 'Forged Ltd' }],
      [`${ctx.ownUrl}/edit`, { csrf_token: token, name: 'Renamed' }],
      [`${ctx.ownUrl}/delete`, { csrf_token: token }],
      [`${base}/demo/admin/roles`, { csrf_token: token, name: 'Mine', visibility: 'all' }],
    ]) {
      const res = await rawPost(vera, url, fields);
      assert.equal(res.status(), 403, url);
    }
    await vera.goto(`${base}/demo/companies`);
    assert.equal(await vera.getByRole('link', { name: 'Forged Ltd' }).count(), 0);
    await vera.getByRole('link', { name: 'Veras Fjord' }).waitFor();
  }));

  test('a role in use cannot be deleted; an unused one can, after confirmation', step(ctx, async () => {
    const { admin } = ctx;
    const { base } = ctx.server;
    await admin.goto(`${base}/demo/admin/roles`);
    await admin.getByRole('link', { name: 'Company viewer' }).click();
    await admin.getByRole('link', { name: 'Delete' }).click();
    await admin.getByRole('button', { name: 'Delete role' }).click();
    assert.match(await admin.getByRole('alert').innerText(), /held by 1 user/);

    await admin.goto(`${base}/demo/admin/roles`);
    await admin.getByLabel('Name', { exact: true }).fill('Spare');
    await admin.getByRole('radio', { name: 'own records', exact: true }).check();
    await admin.getByRole('button', { name: 'Create role' }).click();
    await admin.getByRole('heading', { name: 'Spare' }).waitFor();
    await admin.getByRole('link', { name: 'Delete' }).click();
    await admin.getByRole('button', { name: 'Delete role' }).click();
    await admin.getByRole('heading', { name: 'Roles', exact: true }).waitFor();
    assert.equal(await admin.getByRole('link', { name: 'Spare' }).count(), 0);
  }));

  test('teams: create one and add a member', step(ctx, async () => {
    const { admin } = ctx;
    const { base } = ctx.server;
    await admin.goto(`${base}/demo/admin/teams`);
    await admin.getByLabel('Name').fill('North');
    await admin.getByRole('button', { name: 'Create team' }).click();
    await admin.getByRole('heading', { name: 'North' }).waitFor();
    await admin.getByLabel('Add a member').selectOption({ label: 'vera' });
    await admin.getByRole('button', { name: 'Add', exact: true }).click();
    await admin.getByRole('button', { name: 'Remove vera' }).waitFor();
  }));
});
