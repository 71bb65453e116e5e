// Two-factor sign-in in the browser: an authenticator app enrolled with a code computed
// here (RFC 6238, independently of the server), a passkey through Chromium's virtual
// authenticator (CDP WebAuthn domain), and the tenant's requirement sending a new user
// straight to enrolment.
//
// WebAuthn does not accept an IP address as the relying party, so these pages use
// https://localhost:<port> (the server's relying party without a configured public URL).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { launchBrowser, newPage, startServer, step } from '../lib/harness.mjs';

const ctx = {};

function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let acc = 0;
  const out = [];
  for (const c of s.replace(/=+$/, '')) {
    acc = (acc << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 with HMAC-SHA1, 30-second steps, 6 digits. */
function totp(secret, unixSeconds) {
  const step = Buffer.alloc(8);
  step.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const h = createHmac('sha1', base32Decode(secret)).update(step).digest();
  const o = h[19] & 0x0f;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

function localBase() {
  return ctx.server.base.replace('127.0.0.1', 'localhost');
}

async function signInAt(page, username, password, code) {
  await page.goto(`${localBase()}/demo/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  if (code) await page.getByLabel(/Authentication code/).fill(code);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForLoadState('load');
}

async function signOut(page) {
  await page.goto(`${localBase()}/demo/logout`);
  await page.locator('#main').getByRole('button', { name: 'Sign out' }).click();
  await page.waitForLoadState('load');
}

describe('two-factor', () => {
  before(async () => {
    ctx.server = await startServer();
    ctx.browser = await launchBrowser();
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.stop();
  });

  test('an authenticator app: enrol with a code, sign out, sign in with a code', step(ctx, async () => {
    await ctx.server.addUser('tess', 'user', 'amber-harbour-7731');
    const page = await newPage(ctx.browser);
    await signInAt(page, 'tess', 'amber-harbour-7731');
    assert.equal(new URL(page.url()).pathname, '/demo/');
    await page.goto(`${localBase()}/demo/me/two-factor`);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await page.locator('.qr svg').waitFor();
    const secret = (await page.locator('#totp-secret').innerText()).trim();
    assert.match(await page.locator('#totp-uri').innerText(), /^otpauth:\/\/totp\//);
    await page.getByLabel('Code from the app').fill(totp(secret, Date.now() / 1000));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByText('Your recovery codes.').waitFor();
    assert.equal(await page.locator('.recovery-codes li').count(), 10);
    await signOut(page);

    // The password alone is not enough now.
    await signInAt(page, 'tess', 'amber-harbour-7731');
    assert.match(await page.getByRole('alert').innerText(), /code from your authenticator app/);
    // The next time step's code (the current one was used to confirm; a code works once).
    await signInAt(page, 'tess', 'amber-harbour-7731', totp(secret, Date.now() / 1000 + 30));
    assert.equal(new URL(page.url()).pathname, '/demo/');
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }));

  test('a passkey: add it on the two-factor page, sign in with it alone', step(ctx, async () => {
    await ctx.server.addUser('pax', 'user', 'copper-lantern-5820');
    const page = await newPage(ctx.browser);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await signInAt(page, 'pax', 'copper-lantern-5820');
    await page.goto(`${localBase()}/demo/me/two-factor`);
    await page.getByLabel('Name of the new passkey').fill('Test laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('The passkey is added.').waitFor();
    await page.getByRole('cell', { name: 'Test laptop', exact: true }).waitFor();
    await signOut(page);

    // No username, no password: the passkey names its user.
    await page.goto(`${localBase()}/demo/login`);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.waitForURL(/\/demo\/$/);
    await page.goto(`${localBase()}/demo/me`);
    await page.getByText('pax').first().waitFor();
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }));

  test('required for every user: a new user goes straight to enrolment', step(ctx, async () => {
    const admin = await newPage(ctx.browser);
    await signInAt(admin, 'admin', ctx.server.adminPassword);
    await admin.goto(`${localBase()}/demo/admin/security`);
    await admin.getByLabel('every user').check();
    await admin.getByRole('button', { name: 'Save two-factor requirement' }).click();
    await admin.getByText('Saved.').waitFor();

    await ctx.server.addUser('nova', 'user', 'willow-quartz-2694');
    const page = await newPage(ctx.browser);
    await signInAt(page, 'nova', 'willow-quartz-2694');
    assert.equal(new URL(page.url()).pathname, '/demo/me/two-factor');
    await page.getByText('Your organisation requires a second factor').waitFor();
    // Nothing else is reachable until a factor is enrolled.
    await page.goto(`${localBase()}/demo/companies`);
    assert.equal(new URL(page.url()).pathname, '/demo/me/two-factor');
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const secret = (await page.locator('#totp-secret').innerText()).trim();
    await page.getByLabel('Code from the app').fill(totp(secret, Date.now() / 1000));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByText('Your recovery codes.').waitFor();
    await page.goto(`${localBase()}/demo/companies`);
    assert.equal(new URL(page.url()).pathname, '/demo/companies');
    assert.deepEqual(page.problems, []);
    await page.context().close();

    // Back to nobody, for the tests after this one.
    await admin.goto(`${localBase()}/demo/admin/security`);
    await admin.getByLabel('nobody').check();
    await admin.getByRole('button', { name: 'Save two-factor requirement' }).click();
    await admin.getByText('Saved.').waitFor();
    await admin.context().close();
  }));
});
