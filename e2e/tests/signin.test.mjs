// Signing in and out: right and wrong passwords, no user enumeration, coming back to the
// page you were on, the session cookie's flags, a foreign tenant's cookie, sign-out.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, signIn, startServer, step } from '../lib/harness.mjs';

const ctx = {};

describe('sign-in', () => {
  before(async () => {
    ctx.server = await startServer();
    ctx.browser = await launchBrowser();
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.stop();
  });

  test('a page needs sign-in and comes back after it', step(ctx, async () => {
    const { base, adminPassword } = ctx.server;
    const page = await newPage(ctx.browser);
    await page.goto(`${base}/demo/companies?q=ac`);
    assert.equal(new URL(page.url()).pathname, '/demo/login');
    assert.equal(new URL(page.url()).searchParams.get('next'), '/demo/companies?q=ac');
    await assert.doesNotReject(page.getByRole('heading', { name: 'Sign in to Demo' }).waitFor());
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(adminPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/demo/companies?q=ac`);
    assert.equal(await page.getByLabel('Search companies').inputValue(), 'ac');

    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === '__Host-skjold_session');
    assert.ok(session, 'session cookie set');
    assert.equal(session.secure, true);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(session.path, '/');
    assert.match(session.value, /^demo\.skj_/);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }));

  test('wrong password, unknown user and empty form get the same message', step(ctx, async () => {
    const { base } = ctx.server;
    const page = await newPage(ctx.browser);
    const messages = [];
    for (const [user, pw] of [['admin', 'wrong-password'], ['nobody', 'wrong-password'], ['', '']]) {
      await page.goto(`${base}/demo/login`);
      await page.getByLabel('Username').fill(user);
      await page.getByLabel('Password').fill(pw);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      messages.push(await alert.innerText());
      assert.equal(new URL(page.url()).pathname, '/demo/login');
      // The username stays filled in; the password never comes back.
      assert.equal(await page.getByLabel('Username').inputValue(), user);
      assert.equal(await page.getByLabel('Password').inputValue(), '');
    }
    assert.equal(new Set(messages).size, 1, messages.join(' | '));
    assert.match(messages[0], /Sign-in failed/);
    const cookies = await page.context().cookies();
    assert.ok(!cookies.some((c) => c.name === '__Host-skjold_session'));
    await page.context().close();
  }));

  test('a disabled account gets the same message too', step(ctx, async () => {
    const { base, adminPassword } = ctx.server;
    await ctx.server.addUser('leaver', 'user', 'farewell-tune-81');
    const admin = await newPage(ctx.browser);
    await signIn(admin, base, 'admin', adminPassword);
    await admin.goto(`${base}/demo/admin/users`);
    await admin.getByRole('row', { name: /leaver/ }).getByRole('link', { name: 'leaver' }).click();
    await admin.getByRole('button', { name: 'Disable' }).click();
    await admin.getByText('Disabled', { exact: true }).first().waitFor();

    const page = await newPage(ctx.browser);
    await signIn(page, base, 'leaver', 'farewell-tune-81');
    assert.match(await page.getByRole('alert').innerText(), /Sign-in failed/);
    await admin.context().close();
    await page.context().close();
  }));

  test('sign out ends the session on the server', step(ctx, async () => {
    const { base, adminPassword } = ctx.server;
    const page = await newPage(ctx.browser);
    await signIn(page, base, 'admin', adminPassword);
    assert.equal(new URL(page.url()).pathname, '/demo/');
    const before = (await page.context().cookies()).find((c) => c.name === '__Host-skjold_session');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/demo\/login/);
    await page.getByText('You are signed out.').waitFor();
    // The old cookie value no longer works, even if someone kept a copy.
    await page.context().addCookies([{ ...before }]);
    await page.goto(`${base}/demo/`);
    assert.equal(new URL(page.url()).pathname, '/demo/login');
    await page.getByText('Your session has ended').waitFor();
    await page.context().close();
  }));

  test("another tenant's cookie does not sign you in", step(ctx, async () => {
    const { base } = ctx.server;
    await ctx.server.cli(
      ['tenant', 'create', 'acme', '--name', 'Acme Ltd', '--admin', 'boss', '--password-stdin'],
      'harbour-lights-77\n',
    );
    const page = await newPage(ctx.browser);
    await signIn(page, base, 'boss', 'harbour-lights-77', 'acme');
    assert.equal(new URL(page.url()).pathname, '/acme/');
    await page.getByRole('link', { name: /Acme Ltd/ }).waitFor();
    // The same browser at tenant demo: not signed in there.
    await page.goto(`${base}/demo/`);
    assert.equal(new URL(page.url()).pathname, '/demo/login');
    // A cookie edited to name demo, carrying acme's token, is refused as well.
    const acme = (await page.context().cookies()).find((c) => c.name === '__Host-skjold_session');
    await page.context().addCookies([{ ...acme, value: acme.value.replace(/^acme\./, 'demo.') }]);
    await page.goto(`${base}/demo/companies`);
    assert.equal(new URL(page.url()).pathname, '/demo/login');
    await page.context().close();
  }));

  test('an open redirect through next is refused', step(ctx, async () => {
    const { base, adminPassword } = ctx.server;
    const page = await newPage(ctx.browser);
    for (const next of ['https://evil.example/', '//evil.example/', '/acme/', '/demo/../acme/']) {
      await page.goto(`${base}/demo/login?next=${encodeURIComponent(next)}`);
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(adminPassword);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForLoadState('load');
      const url = new URL(page.url());
      assert.equal(url.origin, base, next);
      assert.equal(url.pathname, '/demo/', next);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(/\/demo\/login/);
    }
    await page.context().close();
  }));
});
