// Single sign-on in the browser: an administrator registers an identity provider configured
// like Microsoft Entra ID (the certified oidc-provider package, run here by
// scripts/oidc-provider) on Admin → Security → Single sign-on, with the provider's second
// factor required; a person then signs in with "Sign in with Microsoft" through the
// provider's own login page — refused without the second factor, let in with it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort, launchBrowser, newPage, REPO_DIR, signIn, startServer, step } from '../lib/harness.mjs';

const ctx = {};
const TID = '11111111-2222-3333-4444-555555555555';

async function startProvider(port, redirectUri) {
  const child = spawn(join(REPO_DIR, 'scripts', 'oidc-provider'), [String(port), redirectUri], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/generic/.well-known/openid-configuration`);
      if (res.ok) return child;
    } catch {
      // not up yet (the first start installs it from npm)
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill();
  throw new Error('the OpenID provider did not start');
}

describe('single sign-on', () => {
  before(async () => {
    ctx.idpPort = await freePort();
    ctx.server = await startServer({
      config: (port) => `public_url = "https://127.0.0.1:${port}"

[sso]
entra_authority = "http://127.0.0.1:${ctx.idpPort}/entra"
google_issuer = "http://127.0.0.1:${ctx.idpPort}/google"
allow_private_issuers = true
`,
    });
    ctx.provider = await startProvider(ctx.idpPort, `${ctx.server.base}/demo/auth/oidc/callback`);
    ctx.browser = await launchBrowser();
  });
  after(async () => {
    await ctx.browser?.close();
    ctx.provider?.kill();
    await ctx.server?.stop();
  });

  test('an administrator adds Entra ID; a person signs in through it with a second factor', step(ctx, async () => {
    const { base } = ctx.server;
    const admin = await newPage(ctx.browser);
    await signIn(admin, base, 'admin', ctx.server.adminPassword);
    await admin.goto(`${base}/demo/admin/security`);
    await admin.getByRole('link', { name: 'Manage single sign-on' }).click();
    await admin.getByRole('heading', { name: 'Single sign-on', level: 1 }).waitFor();
    assert.equal(await admin.locator('#redirect-uri').innerText(), `${base}/demo/auth/oidc/callback`);
    await admin.getByLabel('Kind').selectOption('entra');
    await admin.getByLabel('Name', { exact: true }).fill('Contoso');
    await admin.getByLabel('Client id (application id)').fill('skjold-test');
    await admin.getByLabel('Client secret', { exact: true }).fill('skjold-test-secret');
    await admin.getByLabel('Directory (tenant) id — Entra ID').fill(TID);
    assert.equal(await admin.getByLabel("Require the provider's second factor").isChecked(), true);
    await admin.getByLabel('People the provider knows but Skjold does not').selectOption({ label: 'Make them with the role user' });
    await admin.getByRole('button', { name: 'Add provider' }).click();
    await admin.getByText('The provider is added').waitFor();
    const row = admin.getByRole('row', { name: /Contoso/ });
    assert.match(await row.innerText(), /Microsoft Entra ID/);
    assert.match(await row.innerText(), /required/);
    assert.doesNotMatch(await admin.content(), /skjold-test-secret/);
    assert.deepEqual(admin.problems, []);

    // Without the second factor at the provider: refused, with what to do.
    const person = await newPage(ctx.browser);
    await person.goto(`${base}/demo/login`);
    await person.getByRole('link', { name: 'Sign in with Microsoft' }).click();
    await person.getByRole('heading', { name: 'Test identity provider' }).waitFor();
    await person.getByLabel('Username').fill('alice');
    await person.getByLabel('Password').fill('pw');
    await person.getByRole('button', { name: 'Sign in' }).click();
    await person.getByRole('alert').waitFor();
    assert.match(await person.getByRole('alert').innerText(), /requires a second factor/);
    assert.equal(new URL(person.url()).pathname, '/demo/auth/oidc/callback');
    await person.context().close();

    // With it: in, as a user made just in time with the role the administrator chose.
    const again = await newPage(ctx.browser);
    await again.goto(`${base}/demo/login`);
    await again.getByRole('link', { name: 'Sign in with Microsoft' }).click();
    await again.getByLabel('Username').fill('alice');
    await again.getByLabel('Password').fill('pw');
    await again.getByLabel('Use my second factor').check();
    await again.getByRole('button', { name: 'Sign in' }).click();
    await again.waitForURL(`${base}/demo/`);
    assert.match(await again.content(), /alice@example\.test|Alice/);
    assert.deepEqual(again.problems, []);
    await again.context().close();

    // The administrator sees the sign-in in the audit trail, naming the provider.
    await admin.goto(`${base}/demo/admin/audit?event=auth.sign_in.succeeded`);
    assert.match(await admin.content(), /Contoso/);
    await admin.context().close();
  }));
});
