// The quickstart example as a newcomer runs it (no OIDC_* variables): its built-in development
// IdP's user picker, in chromium.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  LOGIN_COOKIE_PREFIX, SESSION_COOKIE, appCookies, clickAndWait, expectNoStore, inContext,
  launchBrowser, startQuickstart, stopAll,
} from './support.mjs';

const TIMEOUT = 180_000;
let browser;
let app;

before(async () => {
  app = await startQuickstart();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopAll([app]);
});

/** Opens `/` without a session, expects the picker, and picks `user`; returns the callback's response. */
async function pick(page, user, shot) {
  await page.goto(`${app.base}/`);
  await shot(page, 'dev-idp-picker');
  const url = new URL(page.url());
  assert.equal(url.origin + url.pathname, `${app.base}/dev-idp/authorize`);
  assert.match(await page.locator('h1').innerText(), /Development identity provider/);
  assert.equal(await page.locator('button[name="user"]').count(), 3, 'alice, bob and mallory');
  let callback;
  page.on('response', (r) => { if (new URL(r.url()).pathname === '/auth/callback') callback = r; });
  await clickAndWait(page, page.locator(`button[name="user"][value="${user}"]`));
  assert.ok(callback, 'the callback answered');
  return callback;
}

for (const [user, name, role, admin] of [
  ['alice', 'Alice Example', 'app_admin', 'yes'],
  ['bob', 'Bob Example', 'app_reader', 'no'],
]) {
  test(`dev IdP: ${user} picks and sees the role ${role}`, { timeout: TIMEOUT }, () => inContext(browser, `dev-idp-${user}`, async ({ context, shot }) => {
    const page = await context.newPage();
    let home;
    page.on('response', (r) => { if (r.url() === `${app.base}/` && r.status() === 200) home = r; });
    const callback = await pick(page, user, shot);
    await shot(page, `signed-in-${user}`);
    assert.equal(callback.status(), 302);
    assert.equal(page.url(), `${app.base}/`);
    expectNoStore(home, 'the protected home page');
    assert.match(await page.locator('h1').innerText(), new RegExp(`^Signed in as ${name}`));
    const row = (label) => page.locator('tr', { has: page.locator('th', { hasText: label }) }).locator('td');
    assert.equal(await row('PostgreSQL role').innerText(), role);
    assert.equal(await row('Administrator').innerText(), admin);
    assert.equal(await row('Provider').innerText(), 'dev-idp');
    const cookies = await appCookies(context, app);
    assert.ok(cookies.get(SESSION_COOKIE)?.httpOnly, 'an HttpOnly session cookie');
    assert.deepEqual([...cookies.keys()].filter((n) => n.startsWith(LOGIN_COOKIE_PREFIX)), []);

    // Sign out: the development IdP keeps no session and sends the browser to /public.
    await clickAndWait(page, page.locator('a', { hasText: 'Sign out' }));
    await shot(page, 'signed-out');
    assert.equal(page.url(), `${app.base}/public`);
    assert.match(await page.locator('body').innerText(), /You are not signed in/);
    assert.equal((await appCookies(context, app)).has(SESSION_COOKIE), false);
  }, [app]));
}

test('dev IdP: mallory picks and gets the 403 page', { timeout: TIMEOUT }, () => inContext(browser, 'dev-idp-mallory', async ({ context, shot }) => {
  const page = await context.newPage();
  const callback = await pick(page, 'mallory', shot);
  await shot(page, 'no-access-page');
  assert.equal(callback.status(), 403);
  assert.equal(new URL(page.url()).pathname, '/auth/callback');
  assert.equal(await page.locator('h1').innerText(), 'No access to this application');
  assert.match(await page.locator('body').innerText(), /Error: no_role/);
  assert.equal((await appCookies(context, app)).has(SESSION_COOKIE), false);
}, [app]));

test('dev IdP: two tabs whose callbacks arrive at the same moment both end signed in', { timeout: TIMEOUT }, () => inContext(browser, 'dev-idp-two-tabs', async ({ context, shot }) => {
  const [tab1, tab2] = [await context.newPage(), await context.newPage()];
  await Promise.all([tab1.goto(`${app.base}/`), tab2.goto(`${app.base}/api/me?tab=2`)]);
  await shot(tab1, 'tab1-picker');
  await shot(tab2, 'tab2-picker');
  for (const tab of [tab1, tab2]) {
    assert.equal(new URL(tab.url()).pathname, '/dev-idp/authorize');
  }
  const pending = [...(await appCookies(context, app)).keys()].filter((n) => n.startsWith(LOGIN_COOKIE_PREFIX));
  assert.equal(pending.length, 2, `one login cookie per tab: ${pending}`);

  // This IdP keeps no session: picking in both tabs at once sends both callbacks together.
  const callbacks = [];
  context.on('response', (r) => { if (new URL(r.url()).pathname === '/auth/callback') callbacks.push(r); });
  await Promise.all([
    clickAndWait(tab1, tab1.locator('button[name="user"][value="alice"]')),
    clickAndWait(tab2, tab2.locator('button[name="user"][value="alice"]')),
  ]);
  await shot(tab1, 'tab1-signed-in');
  await shot(tab2, 'tab2-signed-in');
  assert.deepEqual(callbacks.map((r) => r.status()), [302, 302], 'both callbacks succeeded');
  assert.equal(tab1.url(), `${app.base}/`);
  assert.match(await tab1.locator('h1').innerText(), /^Signed in as Alice Example/);
  assert.equal(tab2.url(), `${app.base}/api/me?tab=2`);
  assert.equal(JSON.parse(await tab2.locator('body').innerText()).subject, 'alice');
  assert.deepEqual([...(await appCookies(context, app)).keys()].filter((n) => n.startsWith(LOGIN_COOKIE_PREFIX)), [],
    'both login cookies were used up');

  for (const [i, tab] of [tab1, tab2].entries()) {
    const response = await tab.reload();
    await shot(tab, `tab${i + 1}-reloaded`);
    assert.equal(response.status(), 200, `tab ${i + 1} stays signed in after a reload`);
    assert.equal(new URL(tab.url()).origin, app.base);
  }
  assert.match(await tab1.locator('h1').innerText(), /^Signed in as Alice Example/);
  assert.equal(JSON.parse(await tab2.locator('body').innerText()).role, 'app_admin');
}, [app]));

test('dev IdP: another site can neither frame the sign-out form nor sign the user out, and the form works under its policy', { timeout: TIMEOUT }, () => inContext(browser, 'dev-idp-no-framing', async ({ context, shot }) => {
  const page = await context.newPage();
  const violations = [];
  page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text()); });
  await pick(page, 'alice', shot);
  assert.match(await page.locator('h1').innerText(), /^Signed in as Alice Example/);

  // Another site frames the logout route: a cross-site request gets the confirmation form,
  // which the browser must refuse to show in a frame (X-Frame-Options, frame-ancestors).
  const evil = 'http://evil.example';
  await page.route(`${evil}/**`, (route) => route.fulfill({
    contentType: 'text/html',
    body: `<!doctype html><title>evil</title><a id="go" href="${app.base}/auth/logout">go</a>`
      + `<iframe id="frame" src="${app.base}/auth/logout"></iframe>`,
  }));
  const framedRequests = [];
  context.on('request', (r) => { if (r.url() === `${app.base}/auth/logout`) framedRequests.push(r); });
  await page.goto(`${evil}/`);
  await page.waitForTimeout(500);
  await shot(page, 'evil-site-with-frame');
  assert.equal(framedRequests.length, 1, 'the frame asked for the logout route');
  const frame = page.frames().find((f) => f !== page.mainFrame());
  assert.ok(frame, 'the iframe exists');
  assert.ok(!frame.url().startsWith(app.base), `the browser refused to show it: ${frame.url()}`);
  assert.equal(await frame.locator('form').count(), 0, 'no sign-out form in the frame');
  // What the frame was sent: the confirmation page, with the headers that keep it out.
  const confirmation = await context.request.get(`${app.base}/auth/logout`, { headers: { 'sec-fetch-site': 'cross-site' } });
  assert.equal(confirmation.status(), 200);
  assert.match(await confirmation.text(), /Sign out\?/);
  assert.equal(confirmation.headers()['x-frame-options'], 'DENY');
  assert.match(confirmation.headers()['content-security-policy'], /frame-ancestors 'none'/);
  assert.equal((await appCookies(context, app)).has(SESSION_COOKIE), true, 'still signed in');

  // Followed as a link, the confirmation shows at the top level; posted, it signs out.
  await clickAndWait(page, page.locator('#go'));
  await shot(page, 'logout-confirmation');
  assert.equal(page.url(), `${app.base}/auth/logout`);
  assert.equal(await page.locator('h1').innerText(), 'Sign out?');
  assert.equal((await appCookies(context, app)).has(SESSION_COOKIE), true, 'not signed out by the link');
  await clickAndWait(page, page.locator('button', { hasText: 'Sign out' }));
  await shot(page, 'signed-out-after-confirmation');
  assert.equal(page.url(), `${app.base}/public`);
  assert.equal((await appCookies(context, app)).has(SESSION_COOKIE), false);
  assert.deepEqual(violations.filter((v) => !/frame/i.test(v)), [], 'no page of the layer breaks its own policy');
}, [app]));
