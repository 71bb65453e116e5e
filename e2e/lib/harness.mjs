// The browser suite's harness: starts a real Skjold server on a free port with a fresh data
// directory, runs its CLI, and drives Debian's chromium through playwright-core.
//
// The server binary is built by `e2e/run` (or set SKJOLD_BIN); this file never builds and
// never downloads anything.

import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const E2E_DIR = join(here, '..');
export const REPO_DIR = join(E2E_DIR, '..');
export const ARTIFACTS = join(E2E_DIR, 'artifacts');

export function serverBinary() {
  if (process.env.SKJOLD_BIN) return process.env.SKJOLD_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(process.env.HOME, '.cache', 'skjold-target');
  return join(target, 'debug', 'skjold');
}

/** A TCP port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Runs `skjold <args>` against the data dir; resolves with stdout, rejects on failure. */
export function cli(dataDir, args, stdin) {
  return new Promise((resolve, reject) => {
    const child = spawn(serverBinary(), ['--data-dir', dataDir, ...args], {
      env: { ...process.env, SKJOLD_LOG: 'warn' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`skjold ${args.join(' ')} exited ${code}: ${err || out}`));
    });
    child.stdin.end(stdin ?? '');
  });
}

/**
 * Starts `skjold serve` and waits for the demo administrator's one-time password.
 * Returns { base, dataDir, adminPassword, cli(args, stdin), addUser(name, role, pw), stop() }.
 */
export async function startServer({ env = {}, config } = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'skjold-e2e-'));
  const port = await freePort();
  // `config(port)`: a skjold.toml for this server (it may need to know its own address).
  const configArgs = [];
  if (config) {
    const path = join(dataDir, 'skjold.toml');
    await writeFile(path, config(port));
    configArgs.push('--config', path);
  }
  const child = spawn(
    serverBinary(),
    [...configArgs, 'serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--redirect-listen', 'off'],
    { env: { ...process.env, SKJOLD_LOG: 'warn', SKJOLD_METRICS_LISTEN: 'off', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const adminPassword = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the server did not start in 60 s\n${stdout}\n${stderr}`)),
      60_000,
    );
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before it printed the password\n${stdout}\n${stderr}`));
    });
    child.stdout.on('data', (d) => {
      stdout += d;
      const user = stdout.match(/^\s+username: (\S+)$/m);
      const pw = stdout.match(/^\s+password: (\S+)\s+\(one-time/m);
      if (user && pw) {
        clearTimeout(timer);
        resolve(pw[1]);
      }
    });
  });
  child.removeAllListeners('exit');
  const base = `https://127.0.0.1:${port}`;
  return {
    base,
    dataDir,
    adminPassword,
    logs: () => stderr,
    cli: (args, stdin) => cli(dataDir, args, stdin),
    /** Adds a user through the CLI with a known password. */
    addUser: (name, role, password, tenant = 'demo') =>
      cli(dataDir, ['user', 'add', '--tenant', tenant, name, '--role', role, '--password-stdin'], `${password}\n`),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        let timer;
        await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 15_000)))]);
        clearTimeout(timer);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/**
 * Launches Debian's chromium. playwright-core gives every launch a fresh, temporary
 * user-data-dir of its own and removes it on close; each context is a separate profile
 * (its own cookies), like a separate person at a separate computer.
 */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A new browser profile: self-signed certificate accepted, a phone- or desktop-sized window. */
export async function newPage(browser, { width = 1280, height = 900, bypassCSP = false, timezoneId } = {}) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width, height },
    bypassCSP,
    timezoneId,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  // A CSP violation, a failed script or a console error is a bug worth a failing test.
  page.problems = [];
  page.on('console', (msg) => {
    // A page answered with 4xx (a form with errors, a refused request) is logged by the
    // browser as a failed resource; that is the test's business, not a problem.
    if (msg.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text())) {
      page.problems.push(`console: ${msg.text()}`);
    }
  });
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  return page;
}

export async function signIn(page, base, username, password, tenant = 'demo') {
  await page.goto(`${base}/${tenant}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState('load');
}

/** Saves a screenshot of every open page into e2e/artifacts/ (for failures). */
export async function saveArtifacts(browser, name) {
  if (!browser) return;
  await mkdir(ARTIFACTS, { recursive: true });
  const safe = name.replace(/[^a-zA-Z0-9_-]+/g, '-').slice(0, 80);
  let i = 0;
  for (const context of browser.contexts()) {
    for (const page of context.pages()) {
      i += 1;
      try {
        await page.screenshot({ path: join(ARTIFACTS, `${safe}-${i}.png`), fullPage: true });
      } catch {
        // A closed page has nothing to show.
      }
    }
  }
}

/**
 * Wraps a test body: on failure, screenshots of all open pages go to e2e/artifacts/.
 * Use as `test('name', step(ctx, async () => { … }))` where ctx.browser is the browser.
 */
export function step(ctx, body) {
  return async (t) => {
    try {
      await body(t);
    } catch (e) {
      await saveArtifacts(ctx.browser, t.name);
      if (ctx.server) {
        console.error(`server log for "${t.name}":\n${ctx.server.logs().slice(-4000)}`);
      }
      throw e;
    }
  };
}

/** Submits a form the way a forger would: a plain POST from outside the page. */
export async function rawPost(page, url, fields) {
  return page.context().request.post(url, {
    form: fields,
    maxRedirects: 0,
    failOnStatusCode: false,
  });
}
