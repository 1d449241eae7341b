import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOidcAuth } from '../src/auth/oidc-auth.js';
import { createServingApp } from '../src/serving/create-app.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import {
  startOidcProvider,
  TEST_DASHBOARD_CLIENT,
  TEST_SERVICE_CLIENT,
  type TestOidcProvider,
} from './fixtures/oidc-provider.js';

/** A fetch that keeps cookies per origin and never follows redirects, like a browser seen step by step. */
class Browser {
  readonly jar = new Map<string, Map<string, string>>();

  cookies(url: string): Map<string, string> {
    const origin = new URL(url).origin;
    let cookies = this.jar.get(origin);
    if (cookies === undefined) this.jar.set(origin, (cookies = new Map()));
    return cookies;
  }

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const cookies = this.cookies(url);
    const headers = new Headers(init.headers);
    if (cookies.size > 0)
      headers.set('cookie', [...cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || attributes.some((a) => a.trim().toLowerCase() === 'max-age=0'))
        cookies.delete(name);
      else cookies.set(name, value);
    }
    return response;
  }

  /** Follows redirects from `url` until one leads to `stopAt` (an origin + path prefix) or a page; returns the last response and its URL. */
  async follow(url: string, stopAt?: string): Promise<{ response: Response; url: string }> {
    let current = url;
    for (let hops = 0; hops < 20; hops++) {
      if (stopAt !== undefined && current.startsWith(stopAt))
        return { response: await this.fetch(current), url: current };
      const response = await this.fetch(current);
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || location === null)
        return { response, url: current };
      await response.arrayBuffer();
      current = new URL(location, current).href;
    }
    throw new Error(`too many redirects from ${url}`);
  }
}

let idp: TestOidcProvider;
let app: FastifyInstance;
let serving: MemoryServingStore;
let base: string;

beforeAll(async () => {
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
      rules: [
        { emailDomain: 'example.com', scopes: ['tags:read', 'models:read'] },
        { group: 'ml-team', scopes: ['workflows:read'] },
        { claim: 'client_id', equals: TEST_SERVICE_CLIENT.id, scopes: ['tags:read'] },
      ],
    },
  });
  expect(built.warnings).toEqual([]);
  expect(built.authenticators.map((a) => a.name)).toEqual(['jwt', 'session']);
  serving = new MemoryServingStore();
  app = createServingApp({
    serving,
    webRoot: false,
    auth: { mode: 'required', authenticators: built.authenticators },
    ...(built.login === undefined ? {} : { login: built.login }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
});

afterAll(async () => {
  await app?.close();
  await serving?.close();
  await idp?.stop();
});

/** Logs in through the provider's login form as `login`, starting at /auth/login; returns the browser and where kiban sent it. */
async function logIn(
  login: string,
  returnTo = '/experiments',
): Promise<{ browser: Browser; landed: Response }> {
  const browser = new Browser();
  const start = await browser.fetch(`${base}/auth/login?returnTo=${encodeURIComponent(returnTo)}`);
  expect(start.status).toBe(302);
  const authorize = new URL(start.headers.get('location') ?? '');
  expect(authorize.origin).toBe(idp.issuer);
  expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
  expect(authorize.searchParams.get('state')).toBeTruthy();
  expect(authorize.searchParams.get('nonce')).toBeTruthy();
  expect(start.headers.getSetCookie().join('\n')).toMatch(
    /kiban_login=[^;]+; Path=\/auth; Max-Age=600; HttpOnly; SameSite=Lax/,
  );
  // The provider's pages (its dev interactions): the login form (any login and password), then
  // the consent it asks of a native client; each answers with a redirect onwards.
  let step = await browser.follow(authorize.href, `${base}/auth/callback`);
  for (let pages = 0; pages < 4 && !step.url.startsWith(`${base}/auth/callback`); pages++) {
    const html = await step.response.text();
    const action = /action="([^"]+)"/.exec(html)?.[1];
    expect(action, html).toBeDefined();
    const fields: Record<string, string> = html.includes('name="login"')
      ? { prompt: 'login', login, password: 'anything' }
      : { prompt: 'consent' };
    const submitted = await browser.fetch(new URL(action ?? '', step.url).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    step = await browser.follow(
      new URL(submitted.headers.get('location') ?? '', step.url).href,
      `${base}/auth/callback`,
    );
  }
  const callback = step;
  expect(callback.url).toContain(`${base}/auth/callback?`);
  return { browser, landed: callback.response };
}

describe('developer login (authorization code + PKCE) against a real OIDC provider', () => {
  it('logs in, sets the session cookies and shows the developer at /v1/me', async () => {
    const { browser, landed } = await logIn('ada');
    expect(landed.status).toBe(302);
    expect(landed.headers.get('location')).toBe('/experiments');
    const setCookies = landed.headers.getSetCookie().join('\n');
    expect(setCookies).toMatch(
      /kiban_session=[^;]+; Path=\/; Max-Age=28800; HttpOnly; SameSite=Lax/,
    );
    expect(setCookies).toMatch(/kiban_csrf=[^;]+; Path=\/; Max-Age=28800; SameSite=Lax/);
    expect(setCookies).not.toMatch(/kiban_csrf=[^\n]*HttpOnly/);
    const me = await browser.fetch(`${base}/v1/me`);
    expect(me.status).toBe(200);
    const body = (await me.json()) as {
      kind: string;
      name: string;
      id: string;
      method: string;
      scopes: string[];
    };
    expect(body).toMatchObject({
      kind: 'developer',
      name: 'ada@example.com',
      id: `${idp.issuer}|ada`,
      method: 'session',
    });
    expect(body.scopes.sort()).toEqual(['models:read', 'tags:read', 'workflows:read']);
    // The session opens the routes its scopes allow, and only those.
    expect((await browser.fetch(`${base}/v1/models`)).status).toBe(503); // allowed: nothing published
    expect((await browser.fetch(`${base}/metrics`)).status).toBe(403);
  });

  it('demands the CSRF token on cookie-authenticated writes, not on bearer ones', async () => {
    const { browser } = await logIn('grace');
    const post = (headers: Record<string, string> = {}) =>
      browser.fetch(`${base}/v1/tags/suggest`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ text: 'hello world' }),
      });
    const missing = await post();
    expect(missing.status).toBe(403);
    expect(((await missing.json()) as { message: string }).message).toContain(
      'x-csrf-token header: missing',
    );
    expect((await post({ 'x-csrf-token': 'guess' })).status).toBe(403);
    const csrf = browser.cookies(base).get('kiban_csrf') ?? '';
    expect(csrf.length).toBeGreaterThan(20);
    expect((await post({ 'x-csrf-token': csrf })).status).toBe(503); // past auth: no tagger published
    // A service token needs no CSRF token (and the session cookie beside it is not consulted).
    const token = await idp.serviceToken();
    expect((await post({ authorization: `Bearer ${token}` })).status).toBe(503);
  });

  it('refuses an altered session cookie and clears the session at logout', async () => {
    const { browser } = await logIn('linus');
    const cookies = browser.cookies(base);
    const session = cookies.get('kiban_session') ?? '';
    cookies.set('kiban_session', `${session.slice(0, -4)}AAAA`);
    const altered = await browser.fetch(`${base}/v1/me`);
    expect(altered.status).toBe(401);
    const message = ((await altered.json()) as { message: string }).message;
    expect(message).toContain('kiban_session cookie: expired or not valid');
    expect(message).not.toContain(session.slice(0, 16));
    cookies.set('kiban_session', session);
    expect((await browser.fetch(`${base}/v1/me`)).status).toBe(200);
    const out = await browser.fetch(`${base}/auth/logout`, { method: 'POST' });
    expect(out.status).toBe(204);
    expect(cookies.has('kiban_session')).toBe(false);
    expect((await browser.fetch(`${base}/v1/me`)).status).toBe(401);
  });

  it('marks the cookies Secure when told to (TLS ended by a proxy in front)', async () => {
    const built = buildOidcAuth({
      oidc: {
        issuer: idp.issuer,
        audience: idp.audience,
        clientId: TEST_DASHBOARD_CLIENT.id,
        sessionSecret: 'a-session-secret-of-at-least-32-characters',
        secureCookies: true,
      },
    });
    const behindTls = createServingApp({
      serving,
      webRoot: false,
      ...(built.login === undefined ? {} : { login: built.login }),
    });
    try {
      const login = await behindTls.inject({ method: 'GET', url: '/auth/login' });
      expect(login.statusCode).toBe(302);
      expect(String(login.headers['set-cookie'])).toMatch(
        /kiban_login=[^;]+;.*; HttpOnly; Secure;/,
      );
    } finally {
      await behindTls.close();
    }
  });

  it('rejects a callback without its login cookie or with the wrong state, and never redirects off-site', async () => {
    const stray = await fetch(`${base}/auth/callback?code=abc&state=xyz`, { redirect: 'manual' });
    expect(stray.status).toBe(401);
    expect(((await stray.json()) as { message: string }).message).toContain(
      'kiban_login cookie: missing or expired',
    );

    const browser = new Browser();
    await browser.fetch(`${base}/auth/login`);
    const forged = await browser.fetch(`${base}/auth/callback?code=abc&state=not-the-state`);
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { message: string }).message).toContain(
      'login: code exchange',
    );

    const { landed } = await logIn('mallory', '//evil.example/steal');
    expect(landed.headers.get('location')).toBe('/');
  });
});
