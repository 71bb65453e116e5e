// Invitations and service users in the browser: an administrator invites a new user, who
// opens the link in their own browser, chooses a password and signs in; the link then is
// not valid. A service user gets an API token from its page, which then works against the
// API; it has no password to reset. axe-core checks the new pages.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { launchBrowser, newPage, signIn, startServer, step } from '../lib/harness.mjs';

const require = createRequire(import.meta.url);
const ctx = {};

async function noSeriousViolations(page, name) {
  await page.evaluate(ctx.axe);
  const bad = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  assert.deepEqual(bad, [], `${name}: ${JSON.stringify(bad, null, 2)}`);
}

describe('invitations and service users', () => {
  before(async () => {
    ctx.server = await startServer();
    ctx.browser = await launchBrowser();
    ctx.admin = await newPage(ctx.browser);
    await signIn(ctx.admin, ctx.server.base, 'admin', ctx.server.adminPassword);
    ctx.axe = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.stop();
  });

  test('an invited user chooses a password through the link and signs in', step(ctx, async () => {
    const { admin } = ctx;
    const { base } = ctx.server;
    await admin.goto(`${base}/demo/admin/users`);
    await admin.getByLabel('Username').fill('ivy');
    await admin.getByLabel('Role', { exact: true }).selectOption({ label: 'User' });
    await admin.getByLabel('How they get in').selectOption('invite');
    await admin.getByRole('button', { name: 'Create user' }).click();
    const link = await admin.locator('#invite-link').innerText();
    assert.match(link, /^https:\/\/.+\/demo\/invite\/skj_[A-Za-z0-9_-]+$/);

    // Ivy, in her own browser: the page names her, the policy refuses a short password.
    const ivy = await newPage(ctx.browser, { bypassCSP: true });
    await ivy.goto(link);
    await ivy.getByRole('heading', { name: /Welcome/ }).waitFor();
    assert.match(await ivy.locator('main').innerText(), /invited as ivy/);
    await noSeriousViolations(ivy, 'invitation');
    await ivy.getByLabel('New password').fill('short');
    await ivy.getByLabel('Repeat the password').fill('short');
    await ivy.getByRole('button', { name: 'Set password' }).click();
    assert.match(await ivy.getByRole('alert').innerText(), /at least 12 characters/);
    await ivy.getByLabel('New password').fill('a quiet meadow at dawn');
    await ivy.getByLabel('Repeat the password').fill('a quiet meadow at dawn!');
    await ivy.getByRole('button', { name: 'Set password' }).click();
    assert.match(await ivy.getByRole('alert').innerText(), /differ/);
    await ivy.getByLabel('New password').fill('a quiet meadow at dawn');
    await ivy.getByLabel('Repeat the password').fill('a quiet meadow at dawn');
    await ivy.getByRole('button', { name: 'Set password' }).click();
    await ivy.getByText('Your password is set').waitFor();
    await signIn(ivy, base, 'ivy', 'a quiet meadow at dawn');
    assert.equal(new URL(ivy.url()).pathname, '/demo/');

    // Used: the link now says it is not valid.
    const res = await ivy.goto(link);
    assert.equal(res.status(), 404);
    await ivy.getByRole('heading', { name: 'This invitation link is not valid' }).waitFor();
    await noSeriousViolations(ivy, 'invitation not valid');
    await ivy.context().close();

    // The administrator sees no open invitation any more; a new one can be made.
    await admin.goto(`${base}/demo/admin/users`);
    await admin.locator('#main').getByRole('link', { name: 'ivy', exact: true }).click();
    await admin.getByRole('button', { name: 'Invite' }).click();
    assert.match(await admin.locator('#invite-link').innerText(), /\/demo\/invite\/skj_/);
    await admin.getByRole('button', { name: 'Withdraw the invitation' }).click();
    await admin.getByRole('button', { name: 'Invite' }).waitFor();

    // The administrator requires a second factor of Ivy: her next sign-in leads to enrolment.
    await admin.getByRole('button', { name: 'Require a second factor' }).click();
    await admin.getByText('You require one of them in particular.').waitFor();
    const ivyAgain = await newPage(ctx.browser);
    await signIn(ivyAgain, base, 'ivy', 'a quiet meadow at dawn');
    assert.equal(new URL(ivyAgain.url()).pathname, '/demo/me/two-factor');
    await ivyAgain.context().close();
    await admin.getByRole('button', { name: 'Stop requiring it of ivy' }).click();
    await admin.getByRole('button', { name: 'Require a second factor' }).waitFor();
  }));

  test('a service user gets an API token from its page', step(ctx, async () => {
    const { admin } = ctx;
    const { base } = ctx.server;
    await admin.goto(`${base}/demo/admin/users`);
    await admin.getByLabel('Username').fill('crm-sync');
    await admin.getByLabel('Role', { exact: true }).selectOption({ label: 'Read-only' });
    await admin.getByLabel('How they get in').selectOption('service');
    await admin.getByRole('button', { name: 'Create user' }).click();
    assert.match(await admin.getByRole('status').innerText(), /Service user crm-sync created/);
    // The message leads straight to the service user's page, where its tokens are made.
    await admin.getByRole('status').getByRole('link', { name: 'make its API tokens' }).click();
    await admin.getByRole('heading', { name: 'crm-sync' }).waitFor();
    // No password to reset, no invitation: tokens instead.
    assert.equal(await admin.getByRole('button', { name: 'Reset password' }).count(), 0);
    assert.equal(await admin.getByRole('button', { name: 'Invite' }).count(), 0);
    await admin.getByLabel('Token name').fill('Nightly sync');
    await admin.getByRole('checkbox', { name: 'companies:read' }).check();
    await admin.getByRole('button', { name: 'Create token' }).click();
    const token = await admin.locator('#new-token').innerText();
    assert.match(token, /^skjapi_/);
    await admin.getByRole('row', { name: /Nightly sync/ }).waitFor();

    const api = await ctx.browser.newContext({ ignoreHTTPSErrors: true });
    const ok = await api.request.get(`${base}/demo/api/v1/companies`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(ok.status(), 200);

    await admin.getByRole('button', { name: 'Revoke Nightly sync' }).click();
    await admin.getByText('No tokens yet.').waitFor();
    const gone = await api.request.get(`${base}/demo/api/v1/companies`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(gone.status(), 401);
    await api.close();

    const page = await newPage(ctx.browser, { bypassCSP: true });
    await page.context().addCookies(await admin.context().cookies());
    await page.goto(admin.url());
    await noSeriousViolations(page, 'service user');
    await page.context().close();
  }));
});
