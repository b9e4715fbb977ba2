// The quickstart example against the real OpenID provider (npm `oidc-provider`), in chromium.
// One provider and one app for this file; every test has its own browser context.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  LOGIN_COOKIE_PREFIX, LOGOUT_COOKIE, SESSION_COOKIE, appCookies, clickAndWait,
  expectNoStore, expectProviderLogin, freePort, inContext, launchBrowser, originOf,
  signInAtProvider, startProvider, startQuickstart, stopAll,
} from './support.mjs';

const TIMEOUT = 180_000;
let browser;
let provider;
let app;

before(async () => {
  // The provider must know the app's origin before the app starts, so the port comes first.
  const port = await freePort();
  // The provider tells the app when a session ends there (OpenID Connect Back-Channel Logout).
  provider = await startProvider({
    appOrigins: [`http://127.0.0.1:${port}`],
    backchannelLogoutUri: `http://127.0.0.1:${port}/auth/backchannel-logout`,
  });
  app = await startQuickstart({ port, provider, env: { OIDC_BACKCHANNEL_LOGOUT: 'true' } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopAll([app, provider]);
});

const run = (name, body) => inContext(browser, `real-provider-${name}`, body, [app, provider]);

/** Opens `path` without a session, expects the provider's login form, and signs in as `user`. */
async function signIn(page, { path = '/', user, shot }) {
  await page.goto(`${app.base}${path}`);
  await expectProviderLogin(page, provider);
  await signInAtProvider(page, { provider, app, user, shot });
  assert.equal(originOf(page), app.base, `back at the app after signing in, at ${page.url()}`);
}

/** Asserts the home page shows `name` with `role` and the admin flag. */
async function expectHome(page, { name, role, admin }) {
  const url = new URL(page.url());
  assert.equal(url.pathname, '/');
  assert.equal(await page.locator('h1').innerText(), `Signed in as ${name}`);
  const row = (label) => page.locator('tr', { has: page.locator('th', { hasText: label }) }).locator('td');
  assert.equal(await row('PostgreSQL role').innerText(), role);
  assert.equal(await row('Administrator').innerText(), admin ? 'yes' : 'no');
  assert.equal(await row('Issuer').innerText(), provider.issuer);
}

/** `/api/me` as a top-level navigation; returns the JSON and checks it was not cacheable. */
async function apiMe(page) {
  const response = await page.goto(`${app.base}/api/me`);
  assert.equal(response.status(), 200);
  expectNoStore(response, '/api/me');
  return JSON.parse(await page.locator('body').innerText());
}

for (const [user, name, role, admin] of [
  ['alice', 'Alice Example', 'app_admin', true],
  ['bob', 'Bob Example', 'app_reader', false],
]) {
  test(`${user} signs in and sees the role ${role}`, { timeout: TIMEOUT }, () => run(`${user}-role`, async ({ context, shot }) => {
    const page = await context.newPage();
    const homeResponses = [];
    page.on('response', (r) => { if (r.url() === `${app.base}/` && r.status() === 200) homeResponses.push(r); });
    await signIn(page, { user, shot });
    await shot(page, `signed-in-${user}`);
    await expectHome(page, { name, role, admin });
    assert.equal(homeResponses.length, 1, 'the home page was served once, after the callback');
    expectNoStore(homeResponses[0], 'the protected home page');

    const cookies = await appCookies(context, app);
    const session = cookies.get(SESSION_COOKIE);
    assert.ok(session, `a session cookie is set: ${[...cookies.keys()]}`);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(session.path, '/');
    assert.ok(!session.value.includes(user), 'the session cookie is encrypted');
    assert.deepEqual([...cookies.keys()].filter((n) => n.startsWith(LOGIN_COOKIE_PREFIX)), [],
      'the login cookie is gone once used');

    const me = await apiMe(page);
    await shot(page, `api-me-${user}`);
    assert.equal(me.subject, user);
    assert.equal(me.role, role);
    assert.equal(me.admin, admin);
    assert.equal(me.issuer, provider.issuer);
    assert.equal(me.email_verified, true);
  }));
}

test('mallory has no role and gets the 403 page', { timeout: TIMEOUT }, () => run('mallory-403', async ({ context, shot }) => {
  const page = await context.newPage();
  let callback;
  page.on('response', (r) => { if (new URL(r.url()).pathname === '/auth/callback') callback = r; });
  await signIn(page, { user: 'mallory', shot });
  await shot(page, 'no-access-page');
  assert.ok(callback, 'the callback answered');
  assert.equal(callback.status(), 403);
  expectNoStore(callback, 'the 403 page');
  assert.equal(new URL(page.url()).pathname, '/auth/callback');
  assert.equal(await page.locator('h1').innerText(), 'No access to this application');
  const text = await page.locator('body').innerText();
  assert.match(text, /no role in this application/);
  assert.match(text, /Error: no_role/);
  assert.equal(await page.locator('a', { hasText: 'sign out' }).getAttribute('href'), '/auth/logout');
  const cookies = await appCookies(context, app);
  assert.equal(cookies.has(SESSION_COOKIE), false, 'no session for mallory');
  assert.equal(cookies.has(LOGOUT_COOKIE), false);

  const me = await context.request.get(`${app.base}/api/me`, { headers: { accept: 'application/json' } });
  assert.equal(me.status(), 401, 'mallory is not signed in to the app');
}));

test('a deep link survives the round trip through the provider', { timeout: TIMEOUT }, () => run('deep-link', async ({ context, shot }) => {
  const page = await context.newPage();
  const deep = '/api/me?x=1&y=two%20words';
  await page.goto(`${app.base}${deep}`);
  await shot(page, 'provider-login-for-deep-link');
  await expectProviderLogin(page, provider);
  await signInAtProvider(page, { provider, app, user: 'bob', shot });
  await shot(page, 'back-at-deep-link');
  const url = new URL(page.url());
  assert.equal(url.pathname + url.search, deep);
  const me = JSON.parse(await page.locator('body').innerText());
  assert.equal(me.subject, 'bob');
  assert.equal(me.role, 'app_reader');
}));

/** From a signed-in home page: "Sign out", the provider's confirmation, back at /public. */
async function signOut(page, shot) {
  await clickAndWait(page, page.locator('a', { hasText: 'Sign out' }));
  await shot(page, 'provider-logout-confirmation');
  assert.equal(originOf(page), provider.issuer, `the provider asks to confirm, at ${page.url()}`);
  assert.match(await page.locator('h1').innerText(), /Do you want to sign-out/);
  const landed = await clickAndWait(page, page.locator('button', { hasText: 'Yes, sign me out' }));
  await shot(page, 'signed-out-public-page');
  assert.equal(page.url(), `${app.base}/public`);
  assert.equal(landed.status(), 200);
  assert.match(await page.locator('body').innerText(), /You are not signed in/);
}

test('logout ends the local session and the provider session', { timeout: TIMEOUT }, () => run('logout', async ({ context, shot }) => {
  const page = await context.newPage();
  await signIn(page, { user: 'alice', shot });
  await shot(page, 'signed-in');
  await expectHome(page, { name: 'Alice Example', role: 'app_admin', admin: true });
  const before = await appCookies(context, app);
  const stolen = before.get(SESSION_COOKIE);
  assert.ok(stolen, 'signed in with a session cookie');
  assert.ok(before.has(LOGOUT_COOKIE), 'the logout hint is kept for RP-initiated logout');

  await signOut(page, shot);
  const after = await appCookies(context, app);
  assert.equal(after.has(SESSION_COOKIE), false, 'the session cookie is removed');
  assert.equal(after.has(LOGOUT_COOKIE), false, 'the logout hint is removed');

  // The provider's session ended too: the next visit asks for the login again.
  await page.goto(`${app.base}/`);
  await shot(page, 'next-visit-asks-for-login');
  await expectProviderLogin(page, provider);

  // A copy of the old session cookie is refused as well (the session ended on the server).
  await context.addCookies([stolen]);
  const response = await context.request.get(`${app.base}/api/me`, { headers: { accept: 'application/json' } });
  assert.equal(response.status(), 401, 'a replayed session cookie is refused after logout');
  await page.goto(`${app.base}/`);
  await shot(page, 'replayed-cookie-asks-for-login');
  await expectProviderLogin(page, provider);
}));

test('two tabs that start a login at the same time both end signed in', { timeout: TIMEOUT }, () => run('two-tabs', async ({ context, shot }) => {
  const [tab1, tab2] = [await context.newPage(), await context.newPage()];
  await Promise.all([tab1.goto(`${app.base}/`), tab2.goto(`${app.base}/?tab=2`)]);
  await shot(tab1, 'tab1-provider-login');
  await shot(tab2, 'tab2-provider-login');
  await expectProviderLogin(tab1, provider);
  await expectProviderLogin(tab2, provider);
  assert.notEqual(tab1.url(), tab2.url(), 'two separate authorization requests');
  const pending = [...(await appCookies(context, app)).keys()].filter((n) => n.startsWith(LOGIN_COOKIE_PREFIX));
  assert.equal(pending.length, 2, `one login cookie per tab: ${pending}`);
  const callbacks = [];
  context.on('response', (r) => { if (new URL(r.url()).pathname === '/auth/callback') callbacks.push(r); });

  // Tab 1 signs in (login and consent). Tab 2's login form was shown before that finished; it
  // still completes (the provider skips the consent it already has). Submitting both consents
  // at once would test the provider, not the app: oidc-provider binds tokens to the latest grant
  // of its session, so one of two concurrent consents leaves a code whose tokens it then
  // refuses. dev_idp.test.mjs sends two callbacks at the very same moment instead.
  await signInAtProvider(tab1, { provider, app, user: 'alice', shot, label: 'tab1-' });
  await shot(tab1, 'tab1-signed-in');
  await expectHome(tab1, { name: 'Alice Example', role: 'app_admin', admin: true });
  await signInAtProvider(tab2, { provider, app, user: 'alice', shot, label: 'tab2-' });
  await shot(tab2, 'tab2-signed-in');
  assert.equal(new URL(tab2.url()).search, '?tab=2', 'tab 2 came back to its own page');
  assert.equal(await tab2.locator('h1').innerText(), 'Signed in as Alice Example');
  assert.deepEqual(callbacks.map((r) => r.status()), [302, 302], 'both callbacks succeeded');

  for (const [i, tab] of [tab1, tab2].entries()) {
    const response = await tab.reload();
    await shot(tab, `tab${i + 1}-reloaded`);
    assert.equal(response.status(), 200);
    assert.equal(originOf(tab), app.base, `tab ${i + 1} stays signed in after a reload`);
    assert.equal(await tab.locator('h1').innerText(), 'Signed in as Alice Example');
  }
  const cookies = await appCookies(context, app);
  assert.ok(cookies.has(SESSION_COOKIE));
  assert.deepEqual([...cookies.keys()].filter((n) => n.startsWith(LOGIN_COOKIE_PREFIX)), [],
    'both login cookies were used up');
}));

test('after logout the back button does not show protected content', { timeout: TIMEOUT }, () => run('back-button', async ({ context, shot }) => {
  const page = await context.newPage();
  const protectedResponses = [];
  page.on('response', (r) => {
    const url = new URL(r.url());
    if (url.origin === app.base && r.status() === 200 && ['/', '/api/me'].includes(url.pathname)) {
      protectedResponses.push(r);
    }
  });
  await signIn(page, { user: 'alice', shot });
  await shot(page, 'signed-in');
  await expectHome(page, { name: 'Alice Example', role: 'app_admin', admin: true });
  await page.goto(`${app.base}/api/me`);
  await page.goto(`${app.base}/`);
  await shot(page, 'home-again');
  assert.ok(protectedResponses.length >= 3, `saw ${protectedResponses.length} protected responses`);
  for (const r of protectedResponses) expectNoStore(r, 'a protected response');

  await signOut(page, shot);
  const seen = protectedResponses.length;
  const appRequests = [];
  page.on('request', (r) => { if (new URL(r.url()).origin === app.base) appRequests.push(r.url()); });

  // Walk back through the whole history; no step may show the signed-in page again.
  let steps = 0;
  for (let i = 1; i <= 10; i++) {
    const from = page.url();
    const response = await page.goBack({ waitUntil: 'load' });
    if (response === null && page.url() === from) break; // the start of the history
    steps = i;
    await shot(page, `back-${i}`);
    const text = await page.locator('body').innerText();
    assert.doesNotMatch(text, /Signed in as|app_admin|"subject"/,
      `back step ${i} shows protected content at ${page.url()}`);
  }
  assert.ok(steps >= 2, `went back ${steps} steps`);
  assert.equal(protectedResponses.length, seen, 'no protected page was served again after logout');
  assert.ok(appRequests.some((u) => ['/', '/api/me'].includes(new URL(u).pathname)),
    `going back re-requested the protected pages instead of showing a stored copy: ${appRequests}`);
}));

test('a session ended at the provider ends in the app: the reload asks for a login', { timeout: TIMEOUT }, () => run('backchannel-logout', async ({ context, shot }) => {
  const page = await context.newPage();
  await signIn(page, { user: 'bob', shot });
  await shot(page, 'signed-in');
  await expectHome(page, { name: 'Bob Example', role: 'app_reader', admin: false });
  const session = (await appCookies(context, app)).get(SESSION_COOKIE);
  assert.ok(session, 'signed in with a session cookie');

  // Signed out at the provider itself, not through the app: the provider's own sign-out page.
  await page.goto(`${provider.issuer}/session/end`);
  await shot(page, 'provider-logout-confirmation');
  assert.match(await page.locator('h1').innerText(), /Do you want to sign-out/);
  await clickAndWait(page, page.locator('button', { hasText: 'Yes, sign me out' }));
  await shot(page, 'signed-out-at-provider');
  assert.equal(originOf(page), provider.issuer);

  // The app never saw the browser sign out, yet the cookie it still holds no longer works.
  assert.equal((await appCookies(context, app)).get(SESSION_COOKIE)?.value, session.value,
    'the browser still holds the session cookie');
  const me = await context.request.get(`${app.base}/api/me`, { headers: { accept: 'application/json' } });
  assert.equal(me.status(), 401, 'the session ended through back-channel logout');
  await page.goto(`${app.base}/`);
  await page.reload();
  await shot(page, 'reload-asks-for-login');
  await expectProviderLogin(page, provider);
}));
