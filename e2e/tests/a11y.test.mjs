// Accessibility and layout on every main page: axe-core finds no serious or critical
// violation; at 360 px nothing but a table scrolls sideways; the keyboard reaches the
// content first; no page breaks the CSP or throws.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { launchBrowser, newPage, signIn, startServer, step } from '../lib/harness.mjs';

const require = createRequire(import.meta.url);
const ctx = {};

async function seed(page, base) {
  const ids = {};
  await page.goto(`${base}/demo/companies/new`);
  await page.getByLabel('Name').fill('Aurora Shipping AS');
  await page.getByLabel('City').fill('Tromsø');
  await page.getByLabel('Phone').fill('+47 77 00 00 00');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Created.').waitFor();
  ids.company = page.url().split('?')[0];
  await page.goto(`${ids.company}`);
  await page.locator('section', { has: page.getByRole('heading', { name: 'Persons' }) }).getByRole('link', { name: 'New person' }).click();
  await page.getByLabel('First name').fill('Ingrid');
  await page.getByLabel('Last name').fill('Solberg');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Created.').waitFor();
  await page.goto(`${ids.company}`);
  await page.locator('section', { has: page.getByRole('heading', { name: 'Sales' }) }).getByRole('link', { name: 'New sale' }).click();
  await page.getByLabel('Title').fill('Winter charter');
  await page.getByLabel('Amount').fill('48000');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Created.').waitFor();
  await page.goto(`${ids.company}`);
  await page.getByRole('link', { name: 'Log activity' }).first().click();
  await page.getByLabel('Subject').fill('Follow-up call');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Created.').waitFor();
  await page.goto(`${base}/demo/persons`);
  await page.getByRole('link', { name: 'Ingrid Solberg' }).click();
  ids.person = page.url();
  await page.goto(`${base}/demo/sales`);
  await page.getByRole('link', { name: 'Winter charter' }).click();
  ids.sale = page.url();
  await page.goto(`${base}/demo/activities`);
  await page.getByRole('link', { name: 'Follow-up call' }).click();
  ids.activity = page.url();
  await page.goto(`${base}/demo/admin/users`);
  await page.locator('#main').getByRole('link', { name: 'admin', exact: true }).click();
  ids.user = page.url();
  return ids;
}

describe('accessibility and layout', () => {
  before(async () => {
    ctx.server = await startServer();
    ctx.browser = await launchBrowser();
    const page = await newPage(ctx.browser);
    await signIn(page, ctx.server.base, 'admin', ctx.server.adminPassword);
    ctx.ids = await seed(page, ctx.server.base);
    ctx.cookies = await page.context().cookies();
    ctx.axe = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
    const b = ctx.server.base;
    ctx.pages = [
      ['dashboard', `${b}/demo/`],
      ['companies', `${b}/demo/companies`],
      ['company', ctx.ids.company],
      ['new company', `${b}/demo/companies/new`],
      ['edit company', `${ctx.ids.company}/edit`],
      ['delete company', `${ctx.ids.company}/delete`],
      ['persons', `${b}/demo/persons`],
      ['person', ctx.ids.person],
      ['new person', `${b}/demo/persons/new`],
      ['activities', `${b}/demo/activities`],
      ['activity', ctx.ids.activity],
      ['new activity', `${b}/demo/activities/new`],
      ['sales', `${b}/demo/sales`],
      ['sale', ctx.ids.sale],
      ['new sale', `${b}/demo/sales/new`],
      ['pipeline', `${b}/demo/sales/pipeline`],
      ['users', `${b}/demo/admin/users`],
      ['user', ctx.ids.user],
      ['roles', `${b}/demo/admin/roles`],
      ['role', `${b}/demo/admin/roles/manager`],
      ['delete role', `${b}/demo/admin/roles/manager/delete`],
      ['teams', `${b}/demo/admin/teams`],
      ['audit trail', `${b}/demo/admin/audit`],
      ['profile', `${b}/demo/me`],
      ['not found', `${b}/demo/companies/00000000-0000-0000-0000-000000000000`],
    ];
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.stop();
  });

  test('axe-core: no serious or critical violations on any main page', step(ctx, async () => {
    // axe is injected through the DevTools protocol, which the CSP does not govern; the
    // other tests run with the CSP in force.
    const page = await newPage(ctx.browser, { bypassCSP: true });
    const check = async (name, url) => {
      await page.goto(url);
      await page.evaluate(ctx.axe);
      const violations = await page.evaluate(async () => {
        // eslint-disable-next-line no-undef
        const r = await axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
        }));
      });
      const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(bad, [], `${name}: ${JSON.stringify(bad, null, 2)}`);
    };
    // Signed out: the sign-in page, and its error state.
    await check('sign-in', `${ctx.server.base}/demo/login`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    await check('sign-in failed', page.url());
    await page.context().addCookies(ctx.cookies);
    for (const [name, url] of ctx.pages) await check(name, url);
    // A form showing validation errors.
    await page.goto(`${ctx.server.base}/demo/companies/new`);
    await page.getByLabel('Website').fill('nonsense');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('.field-error').first().waitFor();
    await page.evaluate(ctx.axe);
    const bad = await page.evaluate(async () => {
      // eslint-disable-next-line no-undef
      const r = await axe.run(document, { resultTypes: ['violations'] });
      return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id);
    });
    assert.deepEqual(bad, []);
    await page.context().close();
  }));

  test('at 360 px wide only tables scroll sideways; the CSP holds', step(ctx, async () => {
    const page = await newPage(ctx.browser, { width: 360, height: 740 });
    const pages = [['sign-in', `${ctx.server.base}/demo/login`], ...ctx.pages];
    for (const [i, [name, url]] of pages.entries()) {
      if (i === 1) await page.context().addCookies(ctx.cookies);
      await page.goto(url);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name} is ${overflow}px wider than the screen`);
    }
    // The whole main navigation is on screen (it wraps onto a second line).
    await page.goto(`${ctx.server.base}/demo/`);
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const name of ['Dashboard', 'Companies', 'Persons', 'Activities', 'Sales', 'Admin']) {
      const box = await nav.getByRole('link', { name }).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 360, `${name} is off screen: ${JSON.stringify(box)}`);
    }
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }));

  test('the keyboard reaches the content first, and every control shows focus', step(ctx, async () => {
    const page = await newPage(ctx.browser);
    await page.context().addCookies(ctx.cookies);
    await page.goto(`${ctx.server.base}/demo/companies`);
    await page.keyboard.press('Tab');
    const skip = page.getByRole('link', { name: 'Skip to content' });
    assert.equal(await skip.evaluate((el) => el === document.activeElement), true);
    await page.keyboard.press('Enter');
    // Tab on from the content: the first control of the page, not the navigation.
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => document.activeElement.closest('#main') !== null);
    assert.equal(focused, true);
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none');
    // Search, open a company and go to its edit form with the keyboard alone.
    await page.getByLabel('Search companies').focus();
    await page.keyboard.type('auro');
    await page.keyboard.press('Enter');
    await page.waitForURL(/q=auro/);
    await page.getByRole('link', { name: 'Aurora Shipping AS' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Aurora Shipping AS' }).waitFor();
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }));
});
