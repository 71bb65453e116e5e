// Backups: an administrator sees the Backups page (destinations, snapshots), and a restore
// into a new organisation needs a confirmation step, then shows its progress and outcome
// on the page.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, newPage, signIn, startServer, step } from '../lib/harness.mjs';

const ctx = {};

describe('backups', () => {
  before(async () => {
    // The server's own key, outside the data dir (never beside the backups).
    ctx.keyDir = await mkdtemp(join(tmpdir(), 'skjold-e2e-key-'));
    const key = join(ctx.keyDir, 'server-key.txt');
    execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
    const pub = execFileSync('age-keygen', ['-y', key]).toString().trim();
    const config = join(ctx.keyDir, 'skjold.toml');
    await writeFile(
      config,
      `[backup]\nrecipients = ["${pub}"]\nidentity_file = "${key}"\nship_interval_seconds = 1\n`,
    );
    assert.ok((await readFile(config, 'utf8')).includes('identity_file'));
    // The server and the CLI commands below read the same configuration.
    process.env.SKJOLD_CONFIG = config;
    ctx.server = await startServer({ env: { SKJOLD_CONFIG: config } });
    ctx.browser = await launchBrowser();
    ctx.admin = await newPage(ctx.browser);
    await signIn(ctx.admin, ctx.server.base, 'admin', ctx.server.adminPassword);
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.stop();
    if (ctx.keyDir) await rm(ctx.keyDir, { recursive: true, force: true });
  });

  test('the Backups page restores into a new organisation after a confirmation', step(ctx, async () => {
    const { admin } = ctx;
    const { base } = ctx.server;
    await ctx.server.cli(['backup', 'run', '--tenant', 'demo']);
    // A moment after the snapshot.
    await new Promise((r) => setTimeout(r, 1500));
    await admin.goto(`${base}/demo/admin/backups`);
    await admin.getByRole('heading', { name: 'Backups', exact: true }).waitFor();
    await admin.getByRole('heading', { name: 'Destinations' }).waitFor();
    assert.match(await admin.locator('table').innerText(), /snapshot \(manual\)/);
    await admin.getByLabel(/Into a new organisation/).fill('demo-restored-then');
    await admin.getByRole('button', { name: 'Continue' }).click();
    await admin.getByRole('button', { name: 'Yes, restore' }).waitFor();
    assert.match(await admin.locator('body').innerText(), /demo-restored-then/);
    await admin.getByRole('button', { name: 'Yes, restore' }).click();
    await admin.getByText('The restore is started').waitFor();
    // The restore's panel polls while it runs (htmx) and ends showing how it went, without
    // a reload.
    await admin.getByRole('heading', { name: /^Restore (in progress|finished: ok)$/ }).waitFor();
    await admin.getByRole('heading', { name: 'Restore finished: ok' }).waitFor({ timeout: 30000 });
    assert.match(await admin.locator('#restore-progress').innerText(), /Last step: done/);
    for (let i = 0; i < 60; i++) {
      const out = await ctx.server.cli(['tenant', 'list']);
      if (out.includes('demo-restored-then')) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.fail('the restored organisation did not appear');
  }));
});
