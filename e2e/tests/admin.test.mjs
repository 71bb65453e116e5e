// Administration and rights: an administrator creates a user who then signs in; a
// read-only user sees no edit buttons and a forged POST gets 403; forms without the CSRF
// token, or sent from another site, are refused; the profile page.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, rawPost, signIn, startServer, step } from '../lib/harness.mjs';

const ctx = {};

describe('administration and rights', () => {
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

  test('an administrator creates a user, who then signs in', step(ctx, async () => {
    const { admin } = ctx;
    const { base } = ctx.server;
    await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
    await admin.getByRole('heading', { name: 'Users', exact: true }).waitFor();
    // A bad username and a short password: both named.
    await admin.getByLabel('Username').fill('kari nord');
    await admin.getByLabel('Password').fill('short');
    await admin.getByRole('button', { name: 'Create user' }).click();
    const username = admin.locator('.field', { has: admin.getByLabel('Username') });
    assert.match(await username.locator('.field-error').innerText(), /letters, digits/);
    const password = admin.locator('.field', { has: admin.getByLabel('Password') });
    assert.match(await password.locator('.field-error').innerText(), /at least 12 characters/);

    await admin.getByLabel('Username').fill('kari');
    await admin.getByLabel('Display name').fill('Kari Nordmann');
    await admin.getByLabel('E-mail').fill('kari@example.com');
    await admin.getByLabel('Role', { exact: true }).selectOption({ label: 'User' });
    await admin.getByLabel('Password').fill('');
    await admin.getByRole('button', { name: 'Create user' }).click();
    const notice = admin.getByRole('status');
    await notice.waitFor();
    const oneTime = await notice.locator('.secret').innerText();
    assert.ok(oneTime.length >= 12, oneTime);
    assert.equal(await admin.getByRole('row', { name: /kari/ }).getByRole('cell', { name: 'User', exact: true }).count(), 1);
    // The same username again: refused, beside the field.
    await admin.getByLabel('Username').fill('kari');
    await admin.getByRole('button', { name: 'Create user' }).click();
    assert.match(await username.locator('.field-error').innerText(), /taken/);

    // Kari signs in, in her own browser, and sees her name.
    const kari = await newPage(ctx.browser);
    await signIn(kari, base, 'kari', oneTime);
    assert.equal(new URL(kari.url()).pathname, '/demo/');
    await kari.getByRole('link', { name: 'Kari Nordmann' }).waitFor();
    // A plain user has no Admin entry, and the page says no.
    assert.equal(await kari.getByRole('link', { name: 'Admin' }).count(), 0);
    const res = await kari.goto(`${base}/demo/admin/users`);
    assert.equal(res.status(), 403);
    await kari.getByText(/users\.read/).waitFor();
    assert.match(await kari.locator('.meta').innerText(), /Request id [0-9a-f]{32}/);
    ctx.kari = kari;
  }));

  test("changing a user's role takes effect at once", step(ctx, async () => {
    const { admin, kari } = ctx;
    const { base } = ctx.server;
    await admin.goto(`${base}/demo/admin/users`);
    await admin.getByRole('link', { name: 'kari' }).click();
    await admin.getByLabel('Role', { exact: true }).selectOption({ label: 'Manager' });
    await admin.getByRole('button', { name: 'Save' }).click();
    await admin.waitForLoadState('load');
    assert.equal(await admin.getByLabel('Role', { exact: true }).locator('option:checked').innerText(), 'Manager');
    // Managers may read users: Kari now sees Admin.
    await kari.goto(`${base}/demo/`);
    await kari.getByRole('link', { name: 'Admin' }).waitFor();
    // The last administrator cannot be demoted.
    await admin.goto(`${base}/demo/admin/users`);
    await admin.locator('#main').getByRole('link', { name: 'admin', exact: true }).click();
    await admin.getByLabel('Role', { exact: true }).selectOption({ label: 'User' });
    await admin.getByRole('button', { name: 'Save' }).click();
    assert.match(await admin.getByRole('alert').innerText(), /last active administrator/);
  }));

  test('reset password: a new one-time password, the old sessions end', step(ctx, async () => {
    const { admin, kari } = ctx;
    const { base } = ctx.server;
    await admin.goto(`${base}/demo/admin/users`);
    await admin.getByRole('link', { name: 'kari' }).click();
    await admin.getByRole('button', { name: 'Reset password' }).click();
    const fresh = await admin.getByRole('status').locator('.secret').innerText();
    await kari.goto(`${base}/demo/companies`);
    assert.equal(new URL(kari.url()).pathname, '/demo/login');
    await signIn(kari, base, 'kari', fresh);
    assert.equal(new URL(kari.url()).pathname, '/demo/');
  }));

  test('a read-only user finds no edit buttons, and a forged POST gets 403', step(ctx, async () => {
    const { admin } = ctx;
    const { base } = ctx.server;
    // Something to look at.
    await admin.goto(`${base}/demo/companies/new`);
    await admin.getByLabel('Name').fill('Fjord Supplies');
    await admin.getByRole('button', { name: 'Save' }).click();
    await admin.getByRole('heading', { name: 'Fjord Supplies' }).waitFor();
    const companyUrl = admin.url().split('?')[0];

    await ctx.server.addUser('reader', 'read-only', 'quiet-library-19');
    const reader = await newPage(ctx.browser);
    await signIn(reader, base, 'reader', 'quiet-library-19');
    for (const path of ['/demo/', '/demo/companies', companyUrl.replace(base, ''), '/demo/sales/pipeline']) {
      await reader.goto(base + path);
      for (const name of ['New company', 'Edit', 'Delete', 'Log activity', 'New person', 'Move', 'Done']) {
        assert.equal(
          await reader.getByRole('link', { name, exact: true }).or(reader.getByRole('button', { name, exact: true })).count(),
          0,
          `${path} offers "${name}" to a read-only user`,
        );
      }
    }
    await reader.getByRole('link', { name: 'Admin' }).count().then((n) => assert.equal(n, 0));
    // The edit form itself is refused.
    const form = await reader.goto(`${companyUrl}/edit`);
    assert.equal(form.status(), 403);

    // A forged POST, with the reader's own session and even a valid CSRF token: 403.
    await reader.goto(`${base}/demo/companies`);
    const token = await reader.locator('input[name="csrf_token"]').first().inputValue();
    for (const [url, fields] of [
      [`${base}/demo/companies`, { csrf_token: token, name: 'Forged Ltd' }],
      [`${companyUrl}/edit`, { csrf_token: token, name: 'Renamed' }],
      [`${companyUrl}/delete`, { csrf_token: token }],
    ]) {
      const res = await rawPost(reader, url, fields);
      assert.equal(res.status(), 403, url);
    }
    // Nothing changed.
    await admin.goto(`${base}/demo/companies`);
    assert.equal(await admin.getByRole('link', { name: 'Forged Ltd' }).count(), 0);
    await admin.getByRole('link', { name: 'Fjord Supplies' }).waitFor();
  }));

  test('a POST without the CSRF token, or from another site, is refused', step(ctx, async () => {
    const { admin } = ctx;
    const { base } = ctx.server;
    // The administrator's session, no token: 403.
    let res = await rawPost(admin, `${base}/demo/companies`, { name: 'No Token Ltd' });
    assert.equal(res.status(), 403);
    // A token from another session: 403.
    res = await rawPost(admin, `${base}/demo/companies`, {
      name: 'Wrong Token Ltd',
      csrf_token: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    });
    assert.equal(res.status(), 403);
    // A form on another site posting here: the browser marks it cross-site (and, with
    // SameSite=Lax, sends no session cookie).
    const token = await admin.locator('input[name="csrf_token"]').first().inputValue().catch(() => '');
    const evil = await admin.context().newPage();
    await evil.setContent(`<form method="post" action="${base}/demo/companies">
      <input name="name" value="Cross Site Ltd"><input name="csrf_token" value="${token}">
      <button>Go</button></form>`);
    const [response] = await Promise.all([
      evil.waitForResponse((r) => r.url().startsWith(`${base}/demo/companies`)),
      evil.getByRole('button', { name: 'Go' }).click(),
    ]);
    assert.ok([403, 303].includes(response.status()), `status ${response.status()}`);
    await evil.close();
    await admin.goto(`${base}/demo/companies`);
    for (const name of ['No Token Ltd', 'Wrong Token Ltd', 'Cross Site Ltd']) {
      assert.equal(await admin.getByRole('link', { name }).count(), 0, name);
    }
  }));

  test('my profile: details with validation, and my password', step(ctx, async () => {
    const { admin } = ctx;
    const { base, adminPassword } = ctx.server;
    await admin.goto(`${base}/demo/`);
    await admin.getByRole('banner').getByRole('link', { name: 'admin', exact: true }).click();
    await admin.getByRole('heading', { name: 'My profile' }).waitFor();
    await admin.getByLabel('Display name').fill('Ada Admin');
    await admin.getByLabel('E-mail').fill('not-an-address');
    await admin.getByRole('button', { name: 'Save' }).click();
    const email = admin.locator('.field', { has: admin.getByLabel('E-mail') });
    assert.match(await email.locator('.field-error').innerText(), /@/);
    await admin.getByLabel('E-mail').fill('ada@example.com');
    await admin.getByLabel('Phone').fill('+47 22 00 00 00');
    await admin.getByRole('button', { name: 'Save' }).click();
    await admin.getByText('Your details are saved.').waitFor();
    // The header greets me by my new name.
    await admin.getByRole('link', { name: 'Ada Admin' }).waitFor();

    await admin.getByLabel('Current password').fill('wrong-password');
    await admin.getByLabel('New password', { exact: true }).fill('a-brand-new-password');
    await admin.getByLabel('Repeat new password').fill('a-brand-new-password');
    await admin.getByRole('button', { name: 'Change password' }).click();
    const current = admin.locator('.field', { has: admin.getByLabel('Current password') });
    assert.match(await current.locator('.field-error').innerText(), /not your current password/);
    await admin.getByLabel('Current password').fill(adminPassword);
    await admin.getByLabel('New password', { exact: true }).fill('a-brand-new-password');
    await admin.getByLabel('Repeat new password').fill('a-brand-new-password');
    await admin.getByRole('button', { name: 'Change password' }).click();
    await admin.getByText('Your password is changed.').waitFor();
    // Still signed in here; a fresh sign-in needs the new password.
    const again = await newPage(ctx.browser);
    await signIn(again, base, 'admin', adminPassword);
    assert.match(await again.getByRole('alert').innerText(), /Sign-in failed/);
    await signIn(again, base, 'admin', 'a-brand-new-password');
    assert.equal(new URL(again.url()).pathname, '/demo/');
  }));

  test('the audit trail: search sign-ins by user and event', step(ctx, async () => {
    const { admin } = ctx;
    const { base } = ctx.server;
    await admin.goto(`${base}/demo/admin/users`);
    await admin.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Audit trail' }).click();
    await admin.getByRole('heading', { name: 'Audit trail' }).waitFor();
    // Every request is there, newest first: this very page's previous request among them.
    assert.ok((await admin.locator('table.audit tbody tr').count()) > 5);
    await admin.getByLabel('Username').fill('admin');
    await admin.getByLabel('Event').fill('auth.sign_in.failed');
    await admin.getByRole('button', { name: 'Search' }).click();
    await admin.waitForURL(/event=auth\.sign_in\.failed/);
    const rows = admin.locator('table.audit tbody tr');
    // The profile test's sign-in with the old password failed.
    assert.ok((await rows.count()) >= 1);
    const first = await rows.first().innerText();
    assert.match(first, /auth\.sign_in\.failed/);
    assert.match(first, /wrong_password/);
    assert.match(first, /127\.0\.0\.1/);
    // Successful web sign-ins and user changes are events too.
    await admin.getByLabel('Event').fill('user.created');
    await admin.getByRole('button', { name: 'Search' }).click();
    await admin.waitForURL(/event=user\.created/);
    assert.match(await admin.locator('table.audit').innerText(), /kari/);
    // A bad address is named, not ignored.
    await admin.getByLabel('IP address').fill('not-an-ip');
    await admin.getByRole('button', { name: 'Search' }).click();
    const ip = admin.locator('.field', { has: admin.getByLabel('IP address') });
    assert.match(await ip.locator('.field-error').innerText(), /not an IP address/);
    // Only holders of audit.read: a manager (kari) may not.
    const res = await ctx.kari.goto(`${base}/demo/admin/audit`);
    assert.equal(res.status(), 403);
  }));
});
