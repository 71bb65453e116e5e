// Identity and access: the tenant's password policy on the Security page and in the forms
// that set a password, and the lockout after repeated failed sign-ins.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, signIn, startServer, step } from '../lib/harness.mjs';

const ctx = {};

describe('identity', () => {
  before(async () => {
    ctx.server = await startServer();
    ctx.browser = await launchBrowser();
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.stop();
  });

  test('five wrong passwords: "try again later", even with the right one', step(ctx, async () => {
    const { base } = ctx.server;
    await ctx.server.addUser('tove', 'user', 'silver-birch-4410');
    const page = await newPage(ctx.browser);
    const messages = [];
    for (let i = 0; i < 5; i++) {
      await page.goto(`${base}/demo/login`);
      await page.getByLabel('Username').fill('tove');
      await page.getByLabel('Password').fill(`not-it-${i}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      messages.push(await alert.innerText());
    }
    assert.match(messages[0], /Sign-in failed/);
    assert.match(messages[4], /try again later/);
    // The right password does not get in while the account is locked.
    await page.goto(`${base}/demo/login`);
    await page.getByLabel('Username').fill('tove');
    await page.getByLabel('Password').fill('silver-birch-4410');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /try again later/);
    assert.equal(new URL(page.url()).pathname, '/demo/login');
    await page.context().close();

    // The administrator sees the lock on the Security page and lifts it.
    const admin = await newPage(ctx.browser);
    await signIn(admin, base, 'admin', ctx.server.adminPassword);
    await admin.goto(`${base}/demo/admin/security`);
    const row = admin.getByRole('row', { name: /tove/ });
    await row.waitFor();
    await row.getByRole('button', { name: /Unlock/ }).click();
    await admin.getByText('The lock is lifted.').waitFor();
    assert.equal(await admin.getByRole('row', { name: /tove/ }).count(), 0);
    assert.deepEqual(admin.problems, []);
    const tove = await newPage(ctx.browser);
    await signIn(tove, base, 'tove', 'silver-birch-4410');
    assert.equal(new URL(tove.url()).pathname, '/demo/');
    await tove.context().close();
    await admin.context().close();
  }));

  test('the policy is set on the Security page and a form names the refused rule', step(ctx, async () => {
    const { base, adminPassword } = ctx.server;
    const admin = await newPage(ctx.browser);
    await signIn(admin, base, 'admin', adminPassword);
    await admin.goto(`${base}/demo/admin/security`);
    await admin.getByRole('heading', { name: 'Password policy' }).waitFor();
    await admin.getByLabel('Minimum length').fill('16');
    await admin.getByLabel('Require a digit').check();
    await admin.getByRole('button', { name: 'Save policy' }).click();
    await admin.getByText('Saved.').waitFor();
    assert.equal(await admin.getByLabel('Minimum length').inputValue(), '16');

    await admin.goto(`${base}/demo/admin/users`);
    await admin.getByLabel('Username').fill('nils');
    await admin.getByLabel('Password').fill('only-fifteen-ch');
    await admin.getByRole('button', { name: 'Create user' }).click();
    const field = admin.locator('.field', { has: admin.getByLabel('Password') });
    assert.match(await field.locator('.field-error').innerText(), /at least 16 characters \(rule: min_length\)/);
    await admin.getByLabel('Password').fill('1qaz2wsx3edc4rfv');
    await admin.getByRole('button', { name: 'Create user' }).click();
    assert.match(await field.locator('.field-error').innerText(), /most common passwords.*\(rule: common\)/);
    assert.deepEqual(admin.problems, []);
    await admin.context().close();
  }));
});
