/**
 * The bandit dashboard in a real browser against a real server: the app built by Vite, the
 * serving app with the bandit API over a memory bandit store, decisions logged to a directory.
 * ~200 decisions and their feedback go through the HTTP API; the page must chart the arms and the
 * reward rate and list the totals. A screenshot goes to test-artifacts/bandits/.
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
import { DecisionLogWriter, decisionLogFileName } from '../src/bandits/decision-log.js';
import { BanditService } from '../src/bandits/bandit-service.js';
import { createServingApp } from '../src/serving/create-app.js';
import { MemoryBanditStore } from '../src/storage/memory-bandit-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { BROWSER_TESTS, buildDashboard, openBrowser, requireChromium } from './fixtures/browser.js';
import { callOk as call } from './fixtures/http-json.js';

const SHOTS = resolve('test-artifacts/bandits');
const ARMS = ['hero-banner', 'carousel', 'grid'];
/** Click probability of each arm. */
const CLICK = { 'hero-banner': 0.2, carousel: 0.5, grid: 0.35 } as Record<string, number>;

/** A small seeded generator (mulberry32), so the rewards are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.skipIf(!BROWSER_TESTS)('bandit dashboard (chromium)', () => {
  let dir: string;
  let store: MemoryBanditStore;
  let log: DecisionLogWriter;
  let app: FastifyInstance;
  let browser: Browser;
  let page: Page;
  let base: string;

  beforeAll(async () => {
    requireChromium();
    dir = await mkdtemp(join(tmpdir(), 'kiban-bandit-dashboard-'));
    await mkdir(SHOTS, { recursive: true });
    // Build the dashboard from the current sources, so the test never sees a stale dist/web.
    const webRoot = join(dir, 'web');
    await buildDashboard(webRoot);

    store = new MemoryBanditStore();
    log = await DecisionLogWriter.open(decisionLogFileName(join(dir, 'bandit-logs')));
    app = createServingApp({
      serving: new MemoryServingStore(),
      webRoot,
      bandits: new BanditService(store, { log, pollMs: 20, random: seeded(7) }),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    ({ browser, page } = await openBrowser({ width: 1280, height: 900 }));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await log?.close();
    await store?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('lists the bandits and charts arm shares, the reward rate and the totals of one', async () => {
    await call(base, 'PUT', '/v1/bandits/homepage', { policy: 'bts' });
    await call(base, 'PUT', '/v1/bandits/checkout', { policy: 'ucb1' });
    const coin = seeded(42);
    const chosen = new Map<string, number>();
    let clicks = 0;
    for (let i = 0; i < 200; i++) {
      const { decisionId, arms } = await call(base, 'POST', '/v1/bandits/homepage/decide', {
        candidates: ARMS,
      });
      chosen.set(arms[0], (chosen.get(arms[0]) ?? 0) + 1);
      const reward = coin() < CLICK[arms[0]]! ? 1 : 0;
      clicks += reward;
      await call(base, 'POST', '/v1/bandits/homepage/feedback', { decisionId, rewards: [reward] });
      if (i % 40 === 39) await new Promise((r) => setTimeout(r, 300)); // spread over a few time buckets
    }

    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/`);
    await page.getByRole('link', { name: 'Bandits', exact: true }).click();
    await expect.poll(() => page.getByTestId('bandit-row-homepage').isVisible()).toBe(true);
    expect(await page.getByTestId('bandit-row-checkout').isVisible()).toBe(true);
    await page.getByRole('link', { name: 'homepage' }).click();
    await expect.poll(() => page.getByTestId('arm-totals').isVisible()).toBe(true);
    expect(page.url()).toBe(`${base}/bandits/homepage`);

    // One stacked area per arm, a legend and a row of totals naming each arm with its count.
    const areas = page.getByTestId('share-chart').locator('polygon.share-area');
    expect(await areas.count()).toBe(chosen.size);
    for (const [arm, n] of chosen) {
      expect(
        await page.getByTestId('share-chart').locator(`polygon[data-arm="${arm}"]`).count(),
      ).toBe(1);
      expect(await page.getByTestId('share-legend').textContent()).toContain(arm);
      const row = page.getByTestId(`arm-row-${arm}`);
      const cells = await row.locator('td').allTextContents();
      expect(cells[0]).toContain(arm);
      expect(cells[1]).toBe(String(n));
      expect(cells[3]).toBe(String(n));
    }
    // The reward rate: a line with its interval band, and the overall rate in the header.
    expect(
      await page.getByTestId('reward-chart').locator('polyline.reward-line').count(),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await page.getByTestId('reward-chart').locator('polygon.reward-band').count(),
    ).toBeGreaterThanOrEqual(1);
    expect(await page.getByTestId('overall-rate').textContent()).toBe(
      `${((clicks / 200) * 100).toFixed(1)}%`,
    );
    await page.screenshot({ path: join(SHOTS, 'bandit.png'), fullPage: true });

    // Reloading the page's own URL is served by the server (history routing).
    await page.reload();
    await expect.poll(() => page.getByTestId('arm-totals').isVisible()).toBe(true);
    await page.goto(`${base}/bandits`);
    await expect.poll(() => page.getByTestId('bandits-page').isVisible()).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'bandits.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 120_000);
});
