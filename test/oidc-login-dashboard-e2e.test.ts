/**
 * The developer login in a real browser: headless chromium opens the dashboard, follows
 * /auth/login to the test OIDC provider, signs in on its login form, consents, and lands back on
 * the dashboard, which shows who is signed in (from GET /v1/me). A screenshot goes to
 * test-artifacts/oidc-login/.
 *
 * Needs Debian's chromium (CHROMIUM_PATH overrides /usr/bin/chromium). Without it the test is
 * skipped locally but fails under CI=true, so a CI image that lost its browser is noticed.
 */
import type { FastifyInstance } from 'fastify';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOidcAuth } from '../src/auth/oidc-auth.js';
import { createServingApp } from '../src/serving/create-app.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { BROWSER_TESTS, buildDashboard, openBrowser, requireChromium } from './fixtures/browser.js';
import {
  startOidcProvider,
  TEST_DASHBOARD_CLIENT,
  type TestOidcProvider,
} from './fixtures/oidc-provider.js';

const SHOTS = resolve('test-artifacts/oidc-login');

describe.skipIf(!BROWSER_TESTS)('developer login in the dashboard (chromium)', () => {
  let dir: string;
  let idp: TestOidcProvider;
  let app: FastifyInstance;
  let browser: Browser;
  let page: Page;
  let base: string;
  const serving = new MemoryServingStore();

  beforeAll(async () => {
    requireChromium();
    dir = await mkdtemp(join(tmpdir(), 'kiban-oidc-dashboard-'));
    await mkdir(SHOTS, { recursive: true });
    const webRoot = join(dir, 'web');
    await buildDashboard(webRoot);
    idp = await startOidcProvider();
    const built = buildOidcAuth({
      oidc: {
        issuer: idp.issuer,
        audience: idp.audience,
        algorithms: ['ES256'],
        clientId: TEST_DASHBOARD_CLIENT.id,
        clientSecret: TEST_DASHBOARD_CLIENT.secret,
        loginScope: 'openid email groups',
        sessionSecret: 'a-session-secret-of-at-least-32-characters',
        rules: [{ emailDomain: 'example.com', scopes: ['experiments:read', 'workflows:read'] }],
      },
    });
    app = createServingApp({
      serving,
      webRoot,
      auth: { mode: 'required', authenticators: built.authenticators },
      ...(built.login === undefined ? {} : { login: built.login }),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    ({ browser, page } = await openBrowser({ width: 1280, height: 720 }));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await idp?.stop();
    await serving.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('logs in through the provider and shows the developer in the top bar', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Signed out, the dashboard shows no one.
    await page.goto(`${base}/experiments`);
    await page.waitForSelector('.topbar');
    expect(await page.getByTestId('signed-in').count()).toBe(0);

    await page.goto(`${base}/auth/login?returnTo=/experiments`);
    await page.waitForURL((url) => url.href.startsWith(`${idp.issuer}/interaction/`));
    await page.fill('input[name="login"]', 'ada');
    await page.fill('input[name="password"]', 'any password');
    await page.click('button[type="submit"]');
    // The provider asks a native client's user to confirm.
    await page.waitForSelector('button[type="submit"]:has-text("Continue")');
    await page.click('button[type="submit"]:has-text("Continue")');

    await page.waitForURL(`${base}/experiments`);
    await expect
      .poll(() => page.getByTestId('signed-in').textContent())
      .toContain('ada@example.com');
    await page.screenshot({ path: join(SHOTS, 'signed-in.png'), fullPage: true });
    const cookies = await page.context().cookies(base);
    const session = cookies.find((c) => c.name === 'kiban_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    expect(cookies.find((c) => c.name === 'kiban_csrf')?.httpOnly).toBe(false);

    // Logging out ends the session: the top bar is empty again after the reload.
    await page.getByRole('button', { name: 'log out' }).click();
    await expect.poll(() => page.getByTestId('signed-in').count()).toBe(0);
    expect((await page.context().cookies(base)).some((c) => c.name === 'kiban_session')).toBe(
      false,
    );
    expect(errors).toEqual([]);
  }, 120_000);
});
