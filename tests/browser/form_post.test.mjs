// A provider that answers with response_mode=form_post (the quickstart with
// OIDC_RESPONSE_MODE=form_post, against the real OpenID provider), in chromium: the provider's
// page POSTs the response to the callback, and the browser ends up signed in.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  LOGIN_COOKIE_PREFIX, SESSION_COOKIE, appCookies, expectProviderLogin, freePort, inContext,
  launchBrowser, providerPrompt, startProvider, startQuickstart, stopAll, submitProviderForm,
} from './support.mjs';

const TIMEOUT = 180_000;
let browser;
let provider;
let app;

before(async () => {
  const port = await freePort();
  provider = await startProvider({ appOrigins: [`http://127.0.0.1:${port}`] });
  app = await startQuickstart({ port, provider, env: { OIDC_RESPONSE_MODE: 'form_post' } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopAll([app, provider]);
});

const run = (name, body) => inContext(browser, `form-post-${name}`, body, [app, provider]);

test('alice signs in through a form_post response', { timeout: TIMEOUT }, () => run('sign-in', async ({ context, shot }) => {
  const page = await context.newPage();
  const callbacks = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/auth/callback') callbacks.push(r.method());
  });
  await page.goto(`${app.base}/`);
  await expectProviderLogin(page, provider);
  const started = await appCookies(context, app);
  assert.equal([...started.keys()].filter((n) => n.startsWith(LOGIN_COOKIE_PREFIX)).length, 1,
    'one login cookie for the round trip');
  await submitProviderForm(page, { user: 'alice', shot });
  assert.equal(await providerPrompt(page), 'consent');
  await shot(page, 'provider-consent');
  // Consent answers with the provider's form_post page, whose script POSTs to the callback,
  // which redirects home.
  await Promise.all([
    page.waitForURL(`${app.base}/`, { timeout: 30_000 }),
    page.locator('button[type="submit"]', { hasText: 'Continue' }).click(),
  ]);
  await shot(page, 'signed-in');
  assert.deepEqual(callbacks, ['POST'], 'the response came as a form POST, never in a URL');
  assert.equal(await page.locator('h1').innerText(), 'Signed in as Alice Example');
  const cookies = await appCookies(context, app);
  const session = cookies.get(SESSION_COOKIE);
  assert.ok(session, `a session cookie is set: ${[...cookies.keys()]}`);
  assert.equal(session.sameSite, 'Lax', 'only the login cookie crosses sites');
  assert.deepEqual([...cookies.keys()].filter((n) => n.startsWith(LOGIN_COOKIE_PREFIX)), [],
    'the login cookie is gone once used');
}));
