// Browser test: Debian's headless Chromium driven by playwright-core. Logs in through a
// protected app, checks single sign-on to a second app, signs out, and visits each page
// sidegate shows people (signed in, signed out with the way back, cancelled with a retry,
// expired, invalid return URL, IdP unreachable, misconfigured).
// Driven by tests/it/browser.rs, which starts the real stack and passes URLs in env.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};
const APP = env('APP');
const APP2 = env('APP2');
const AUTH = env('AUTH');
const IDP = env('IDP');
const DEAD_START = env('DEAD_START');
const MISCONFIGURED_START = env('MISCONFIGURED_START');
const SHOTS = env('SHOTS');
mkdirSync(SHOTS, { recursive: true });

let checks = 0;
const check = (cond, what) => {
  if (!cond) throw new Error(`check failed: ${what}`);
  checks += 1;
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--host-resolver-rules=MAP *.example.test 127.0.0.1'],
});

async function newPage() {
  const context = await browser.newContext();
  // Only loopback and the test hosts: the OP's dev pages import a web font from elsewhere.
  await context.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host === '127.0.0.1' || host === 'localhost' || host.endsWith('.example.test')) route.continue();
    else route.abort();
  });
  return context.newPage();
}

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

async function loginAtIdp(page, user) {
  check(page.url().startsWith(`${IDP}/interaction/`), `at the IdP login page, not ${page.url()}`);
  await page.fill('input[name="login"]', user);
  await page.fill('input[name="password"]', 'any password');
  await shot(page, `idp-login-${user}`);
  await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
}

let page;
try {
  // 1. Protected app → IdP → back on the original URL, with the identity shown.
  page = await newPage();
  const original = `${APP}/some/page?hello=world&x=%2F`;
  await page.goto(original);
  await loginAtIdp(page, 'alice');
  await shot(page, 'idp-consent');
  await Promise.all([page.waitForURL(original), page.click('button[type="submit"]')]);
  check(page.url() === original, `landed on ${page.url()}`);
  check((await page.textContent('#user')) === 'alice', 'app shows alice');
  check((await page.textContent('#groups')) === 'admins,staff', 'app shows alice\'s groups');
  check((await page.textContent('#path')) === '/some/page?hello=world&x=%2F', 'app got path and query');
  await shot(page, 'app-signed-in');

  // 2. Single sign-on: the second app opens without another login.
  await page.goto(`${APP2}/dashboard`);
  check(page.url() === `${APP2}/dashboard`, `app2 redirected to ${page.url()}`);
  check((await page.textContent('#user')) === 'alice', 'app2 shows alice');
  await shot(page, 'app2-single-sign-on');

  // sidegate's own pages, while signed in, say as whom and offer signing out.
  for (const url of [`${AUTH}/start`, `${AUTH}/`]) {
    await page.goto(url);
    check(page.url() === url, `${url} redirected to ${page.url()}`);
    check((await page.textContent('h1')) === 'Signed in', `${url}: signed-in page`);
    check((await page.textContent('p')).includes('signed in as alice'), `${url}: names alice`);
    check((await page.getAttribute('a', 'href')) === '/logout', `${url}: offers sign-out`);
  }
  await shot(page, 'page-signed-in');
  await page.goto(`${APP2}/dashboard`);

  // 3. Sign out: sidegate ends its session and sends us to the IdP to end that one too
  // (RP-initiated logout); confirming there brings us back to sidegate's signed-out page.
  await page.click('#logout');
  check(page.url().startsWith(`${IDP}/session/end`), `sign-out went to ${page.url()}`);
  await shot(page, 'idp-logout');
  await Promise.all([page.waitForURL(`${AUTH}/logged-out**`), page.click('button[name="logout"][value="yes"]')]);
  check((await page.textContent('h1')) === 'Signed out', 'signed-out page');
  // The app is known from where the sign-out started (the browser's Referer, cross-origin
  // so the origin only): a way back, and a sign-in to it.
  const back = page.locator('a', { hasText: 'Back to app2.example.test' });
  check((await back.count()) === 1, 'signed-out page links back to the app');
  check((await back.getAttribute('href')) === `${new URL(APP2).origin}/`, 'back link goes to the app page');
  const again = page.locator('a', { hasText: 'Sign in again' });
  check((await again.getAttribute('href')) === `/start?rd=${encodeURIComponent(`${new URL(APP2).origin}/`)}`, 'sign in again returns to the app');
  await shot(page, 'page-signed-out');
  const cookies = await page.context().cookies();
  check(!cookies.some((c) => c.name === '_sidegate'), 'session cookie removed');
  // The app needs a new login now, and the IdP asks for the password again.
  const starts = [];
  page.on('request', (r) => { if (r.url().startsWith(`${AUTH}/start`)) starts.push(r.url()); });
  await page.goto(`${APP}/again`);
  check(starts.length === 1, `after sign-out the app did not ask for a login (${starts.length})`);
  check(page.url().startsWith(`${IDP}/interaction/`), `after sign-out the IdP did not ask again: ${page.url()}`);

  // 4. Pages for bad links.
  const pages = [
    [`${AUTH}/start?rd=https%3A%2F%2Fevil.test%2F`, 400, 'Bad request', 'not allowed', 'page-bad-return-url'],
    [`${AUTH}/callback?code=abc&state=neverissued`, 400, 'Sign-in expired', 'expired or was already used', 'page-login-expired'],
    [DEAD_START, 503, 'Identity provider unreachable', 'cannot be reached', 'page-idp-unreachable'],
    [MISCONFIGURED_START, 503, 'Sign-in is misconfigured', 'settings do not match', 'page-misconfigured'],
  ];
  for (const [url, status, title, text, name] of pages) {
    const response = await page.goto(url);
    check(response.status() === status, `${url}: status ${response.status()}`);
    check((await page.textContent('h1')) === title, `${url}: title`);
    check((await page.textContent('p')).includes(text), `${url}: message`);
    await shot(page, name);
  }

  // 5. Access denied: cancelling at the IdP comes back as error=access_denied.
  page = await newPage();
  await page.goto(`${APP}/private`);
  await loginAtIdp(page, 'bob');
  const cancel = page.locator('a[href*="/abort"]');
  check((await cancel.count()) === 1, 'the IdP consent page has a cancel link');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(`${AUTH}/callback`)),
    cancel.click(),
  ]);
  await page.waitForLoadState();
  check(response.status() === 403, `cancelled login status ${response.status()}`);
  check((await page.textContent('h1')) === 'Sign-in cancelled', 'cancelled page title');
  const body = await page.content();
  check(!/stack|panic|error\.rs|reqwest|access_denied/i.test(body), 'no internals on the page');
  await shot(page, 'page-sign-in-cancelled');
  // "Try again" starts a new sign-in for the same page.
  const retry = page.locator('a', { hasText: 'Try again' });
  check((await retry.getAttribute('href')) === `/start?rd=${encodeURIComponent(`${APP}/private`)}`, 'retry keeps the page');
  await Promise.all([page.waitForURL(`${IDP}/**`), retry.click()]);
  check(page.url().startsWith(`${IDP}/`), `retry went to ${page.url()}`);

  console.log(`BROWSER OK ${checks} checks; screenshots in ${SHOTS}`);
  await browser.close();
} catch (e) {
  if (page) await shot(page, 'failure').catch(() => {});
  console.error(`BROWSER FAILED after ${checks} checks: ${e.stack || e}`);
  if (page) console.error(`at ${page.url()}:\n${(await page.content().catch(() => '')).slice(0, 2000)}`);
  await browser.close();
  process.exit(1);
}
