// Shared helpers of the browser tests: the processes they run (the real OpenID provider and the
// quickstart example, each on a free port of 127.0.0.1), the browser (Debian chromium through
// playwright-core), screenshots of every step, and the IdP's forms.
//
// Environment:
//   CHROMIUM           the browser binary (default /usr/bin/chromium; missing = failure)
//   QUICKSTART_BIN     the quickstart example (default <target>/debug/examples/quickstart)
//   CARGO_TARGET_DIR   the build directory (default <repo>/target); screenshots go to
//                      <target>/browser-screenshots/<test>/<NN-step>.png

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TARGET_DIR = path.resolve(ROOT, process.env.CARGO_TARGET_DIR || 'target');
export const SCREENSHOT_DIR = path.join(TARGET_DIR, 'browser-screenshots');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const QUICKSTART_BIN = process.env.QUICKSTART_BIN
  || path.join(TARGET_DIR, 'debug', 'examples', 'quickstart');

// The test client registered at tests/oidc-provider/server.mjs (as in scripts/test.sh).
export const CLIENT_ID = 'tower-oidc-test';
export const CLIENT_SECRET = 'tower-oidc-test-secret-0123456789abcdef0123456789';
export const SESSION_COOKIE = 'oidc-session';
export const LOGOUT_COOKIE = 'oidc-logout';
export const LOGIN_COOKIE_PREFIX = 'oidc-login-';

// The flags that work with Debian's chromium here (see PRODUCT.md).
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// ---------------------------------------------------------------------------------------------
// Processes. Every child is remembered by PID and killed when this test file's process ends,
// however it ends.

const children = new Set();

function killAll(signal) {
  for (const child of children) {
    try {
      process.kill(child.pid, signal);
    } catch {
      // already gone
    }
  }
}
process.on('exit', () => killAll('SIGKILL'));
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killAll('SIGKILL');
    process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 })[signal]);
  });
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `command` and resolves once a line of its stdout matches `ready` (a RegExp): with the
 * match and a handle whose `stop()` ends it and `log()` returns what it wrote so far.
 */
function startProcess(name, command, args, { env, ready, timeoutMs = 90_000 }) {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let output = '';
  const handle = {
    name,
    pid: child.pid,
    log: () => output.replace(/\x1b\[[0-9;]*m/g, ''),
    exited: () => child.exitCode !== null || child.signalCode !== null,
    async stop() {
      if (!handle.exited()) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await gone;
        clearTimeout(timer);
      }
      children.delete(child);
    },
  };
  return new Promise((resolve, reject) => {
    let stdoutBuf = '';
    const timer = setTimeout(() => {
      handle.stop();
      reject(new Error(`${name} did not get ready within ${timeoutMs} ms; its output:\n${handle.log()}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      children.delete(child);
      reject(new Error(`cannot start ${name} (${command}): ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready; its output:\n${handle.log()}`));
    });
    child.stderr.on('data', (d) => { output += d; });
    child.stdout.on('data', (d) => {
      output += d;
      stdoutBuf += d;
      const match = stdoutBuf.match(ready);
      if (match) {
        clearTimeout(timer);
        stdoutBuf = '';
        resolve({ ...handle, match });
      }
    });
  });
}

/** The environment without any OIDC_* variable, so the parent's setup never leaks in. */
function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('OIDC_')) env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * Starts a private instance of the real OpenID provider (tests/oidc-provider/server.mjs, users
 * alice, bob and mallory) that accepts `appOrigins` as redirect and post-logout targets. With
 * `backchannelLogoutUri`, it sends back-channel logout tokens there when a session ends.
 */
export async function startProvider({ appOrigins, backchannelLogoutUri }) {
  const extra = backchannelLogoutUri ? { BACKCHANNEL_LOGOUT_URI: backchannelLogoutUri } : {};
  const proc = await startProcess('oidc-provider', process.execPath,
    [path.join(ROOT, 'tests/oidc-provider/server.mjs')], {
      env: cleanEnv({ PORT: '0', USERS_SET: 'a', APP_ORIGINS: appOrigins.join(','), ...extra }),
      ready: /^ISSUER=(\S+)$/m,
    });
  return { ...proc, issuer: proc.match[1] };
}

/**
 * Starts the quickstart example on a free port. With `provider` it signs in there (client
 * `tower-oidc-test`); without, it runs its built-in development IdP. `env` adds variables
 * (e.g. `OIDC_BACKCHANNEL_LOGOUT`). Resolves when `/public` answers.
 */
export async function startQuickstart({ port, provider, env: extra = {} } = {}) {
  try {
    accessSync(QUICKSTART_BIN, constants.X_OK);
  } catch {
    throw new Error(`${QUICKSTART_BIN} is missing: build it with `
      + '`cargo build --all-features --example quickstart` (scripts/browser.sh does)');
  }
  const base = `http://127.0.0.1:${port ?? await freePort()}`;
  const env = { BASE_URL: base, RUST_LOG: 'info', NO_COLOR: '1' };
  if (provider) {
    Object.assign(env, {
      OIDC_ISSUER_URL: provider.issuer,
      OIDC_CLIENT_ID: CLIENT_ID,
      OIDC_CLIENT_SECRET: CLIENT_SECRET,
      OIDC_SCOPE: 'openid profile email groups',
      OIDC_POST_LOGOUT_REDIRECT_URI: `${base}/public`,
      OIDC_COOKIE_KEY: '9GpJt9VEpgaYXiJETnksdC3++mERTdB5LN92gSNse4x4pn6OcjPXz8bKq37T+Dkf',
    });
  }
  Object.assign(env, extra);
  const proc = await startProcess('quickstart', QUICKSTART_BIN, [], {
    env: cleanEnv(env),
    ready: /listening on /,
  });
  // The banner is printed just before serving starts: wait until it answers.
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${base}/public`);
      if (res.ok) break;
    } catch (err) {
      if (i >= 300) throw new Error(`quickstart at ${base} does not answer: ${err.message}\n${proc.log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ...proc, base };
}

// ---------------------------------------------------------------------------------------------
// Browser

/** Stops the processes; fails if any of them had died before (with its output). */
export async function stopAll(processes) {
  const dead = processes.filter((p) => p?.exited());
  for (const p of processes) await p?.stop();
  assert.deepEqual(dead.map((p) => p.name), [],
    `died during the tests:\n${dead.map((p) => `---- ${p.name} ----\n${p.log()}`).join('\n')}`);
}

/** Launches chromium; a missing binary is a failure that says what to install, never a skip. */
export async function launchBrowser() {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(`chromium not found at ${CHROMIUM}: install Debian's \`chromium\` package `
      + '(scripts/browser.sh does it with apt-get) or set CHROMIUM to a Chromium binary');
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * A fresh browser context (no cookies, no cache). Requests leaving 127.0.0.1 (the provider's
 * pages import a web font) are aborted, so nothing waits on a network that is not there.
 */
export async function newContext(browser) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  context.setDefaultTimeout(30_000);
  context.setDefaultNavigationTimeout(45_000);
  await context.route((url) => url.hostname !== '127.0.0.1', (route) => route.abort());
  return context;
}

/** Takes numbered screenshots of a test's steps: `<target>/browser-screenshots/<test>/<NN-step>.png`. */
export function screenshots(testName) {
  const dir = path.join(SCREENSHOT_DIR, slug(testName));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let n = 0;
  const shot = async (page, step) => {
    n += 1;
    const file = path.join(dir, `${String(n).padStart(2, '0')}-${slug(step)}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  };
  shot.dir = dir;
  return shot;
}

function slug(s) {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
}

/**
 * Runs `body({ context, shot })` in a fresh context; on failure, screenshots every open page
 * (`NN-failure-...`), adds the processes' last log lines to the error, and rethrows.
 */
export async function inContext(browser, testName, body, processes = []) {
  const context = await newContext(browser);
  const shot = screenshots(testName);
  try {
    await body({ context, shot });
  } catch (err) {
    for (const [i, page] of context.pages().entries()) {
      try {
        await shot(page, `failure-page-${i + 1}`);
      } catch {
        // the page may be gone
      }
    }
    const logs = processes
      .map((p) => `---- ${p.name} (pid ${p.pid}), last lines ----\n${p.log().split('\n').slice(-30).join('\n')}`)
      .join('\n');
    err.message += `\n(screenshots in ${shot.dir})\n${logs}`;
    throw err;
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Pages

/** Clicks `locator` and waits for the navigation it starts to finish loading; returns the response. */
export async function clickAndWait(page, locator) {
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    locator.click(),
  ]);
  return response;
}

/** The origin of the page's current URL. */
export function originOf(page) {
  return new URL(page.url()).origin;
}

/** Asserts that the page is oidc-provider's login form. */
export async function expectProviderLogin(page, provider) {
  assert.equal(originOf(page), provider.issuer, `expected the provider's login page, at ${page.url()}`);
  assert.match(page.url(), /\/interaction\/[^/?]+$/);
  assert.equal(await page.locator('form input[name="prompt"][value="login"]').count(), 1,
    `expected the login form at ${page.url()}:\n${await page.locator('body').innerText()}`);
  assert.equal(await page.locator('input[name="login"]').isVisible(), true);
}

/** Which of oidc-provider's development interaction forms the page shows: `login` or `consent`. */
export async function providerPrompt(page) {
  return page.locator('form input[name="prompt"]').getAttribute('value', { timeout: 10_000 });
}

/**
 * Fills and submits the provider form on the page (login as `user`, or consent) and waits for
 * the navigation it starts; returns its response. Screenshots are named `<label>provider-...`.
 */
export async function submitProviderForm(page, { user, shot, label = '' }) {
  const prompt = await providerPrompt(page);
  if (prompt === 'login') {
    await page.locator('input[name="login"]').fill(user);
    await page.locator('input[name="password"]').fill('any password');
    if (shot) await shot(page, `${label}provider-login-${user}`);
    return clickAndWait(page, page.locator('button[type="submit"]', { hasText: 'Sign-in' }));
  }
  if (prompt === 'consent') {
    if (shot) await shot(page, `${label}provider-consent-${user}`);
    return clickAndWait(page, page.locator('button[type="submit"]', { hasText: 'Continue' }));
  }
  throw new Error(`unexpected provider page (prompt ${prompt}) at ${page.url()}:\n${await page.locator('body').innerText()}`);
}

/**
 * Drives oidc-provider's development interactions (login form, then consent) as `user` until
 * the browser is back at the app's origin. Returns the last navigation's response.
 */
export async function signInAtProvider(page, { provider, app, user, shot, label = '' }) {
  let response = null;
  for (let step = 0; step < 6; step++) {
    const origin = originOf(page);
    if (origin === app.base) return response;
    assert.equal(origin, provider.issuer, `unexpected page ${page.url()}`);
    response = await submitProviderForm(page, { user, shot, label });
  }
  throw new Error(`still not back at the app after 6 steps: ${page.url()}`);
}

/** The app's cookies in the context, by name. */
export async function appCookies(context, app) {
  return new Map((await context.cookies(app.base)).map((c) => [c.name, c]));
}

/** Asserts that a response's Cache-Control forbids storing it. */
export function expectNoStore(response, what) {
  assert.ok(response, `no response for ${what}`);
  const cc = response.headers()['cache-control'] ?? '';
  assert.match(cc, /(^|,)\s*no-store\s*(,|$)/i, `${what} (${response.url()}) must carry Cache-Control: no-store, has "${cc}"`);
}
