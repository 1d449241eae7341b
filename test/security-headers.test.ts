import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServingApp } from '../src/serving/create-app.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';

const WEB_ROOT = fileURLToPath(new URL('../dist/web', import.meta.url));

/** The directives of a Content-Security-Policy header. */
function directives(header: string): Map<string, string[]> {
  return new Map(
    header
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0] !== '')
      .map(([name, ...values]) => [name!, values]),
  );
}

/** Whether `directive`'s sources (falling back to default-src) allow a URL the page at `/` loads. */
function allows(csp: Map<string, string[]>, directive: string, url: string): boolean {
  const sources = csp.get(directive) ?? csp.get('default-src') ?? [];
  if (url.startsWith('data:')) return sources.includes('data:');
  const resolved = new URL(url, 'http://kiban.test/');
  return resolved.origin === 'http://kiban.test' && sources.includes("'self'");
}

describe('security headers (helmet) on the dashboard and the API', () => {
  let app: FastifyInstance;
  let html: string;

  beforeAll(async () => {
    expect(
      existsSync(`${WEB_ROOT}/index.html`),
      `the dashboard must be built (npm run build:web) in ${WEB_ROOT}`,
    ).toBe(true);
    app = createServingApp({ serving: new MemoryServingStore(), webRoot: WEB_ROOT });
    await app.ready();
    html = readFileSync(`${WEB_ROOT}/index.html`, 'utf8');
  });
  afterAll(async () => {
    await app?.close();
  });

  it("sends helmet's headers with the dashboard, and a CSP without upgrade-insecure-requests", async () => {
    const page = await app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toBe(html);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(page.headers['x-powered-by']).toBeUndefined();
    const csp = directives(String(page.headers['content-security-policy']));
    expect(csp.get('script-src')).toEqual(["'self'"]);
    expect(csp.get('object-src')).toEqual(["'none'"]);
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    expect(csp.has('upgrade-insecure-requests')).toBe(false);
    // The audit page is a client route: the same HTML under the same policy.
    const audit = await app.inject({ url: '/audit' });
    expect(audit.statusCode).toBe(200);
    expect(audit.body).toBe(html);
    expect(audit.headers['content-security-policy']).toBe(page.headers['content-security-policy']);
  });

  it("allows every script, style and icon the dashboard's HTML loads, and the HTML has no inline code", async () => {
    const csp = directives(
      String((await app.inject({ url: '/workflows' })).headers['content-security-policy']),
    );
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    const loaded: { directive: string; url: string }[] = [];
    for (const [, attributes, body] of scripts) {
      const src = /\bsrc="([^"]+)"/.exec(attributes!)?.[1];
      // An inline script would need 'unsafe-inline' or a nonce: the build must have none.
      expect(src, `inline <script> in index.html: ${body!.slice(0, 80)}`).toBeDefined();
      expect(body!.trim()).toBe('');
      loaded.push({ directive: 'script-src', url: src! });
    }
    expect(html).not.toMatch(/<style\b/);
    expect(html).not.toMatch(/\sstyle="/);
    expect(html).not.toMatch(/\son[a-z]+="/);
    for (const [, attributes] of html.matchAll(/<link\b([^>]*)>/g)) {
      const href = /\bhref="([^"]+)"/.exec(attributes!)?.[1];
      const rel = /\brel="([^"]+)"/.exec(attributes!)?.[1];
      if (href === undefined) continue;
      loaded.push({ directive: rel === 'stylesheet' ? 'style-src' : 'img-src', url: href });
    }
    expect(loaded.some((l) => l.directive === 'style-src')).toBe(true);
    for (const { directive, url } of loaded) {
      expect(allows(csp, directive, url), `${directive} must allow ${url.slice(0, 60)}`).toBe(true);
      if (url.startsWith('data:')) continue;
      const asset = await app.inject({ url });
      expect(asset.statusCode, url).toBe(200);
      expect(asset.headers['x-content-type-options']).toBe('nosniff');
      // script-src 'self' without 'unsafe-eval': the bundle must not build code from strings.
      if (directive === 'script-src') expect(asset.body).not.toMatch(/\beval\(|new Function\(/);
    }
  });

  it('sends them with API answers and errors too', async () => {
    for (const url of ['/v1/models', '/openapi.json', '/no-such-route']) {
      const answer = await app.inject({ url });
      expect(answer.headers['x-content-type-options'], url).toBe('nosniff');
      expect(answer.headers['content-security-policy'], url).toContain("default-src 'self'");
    }
  });
});
