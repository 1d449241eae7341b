/**
 * The features dashboard in a real browser against a real server: the app built by Vite, the
 * serving app over the bundled example repository (examples/features) materialised for 1996 into
 * a SQLite online store, and the registry applied in a SQLite metadata store. The features page
 * must list both example views grouped by entity with their owner, TTL and freshness (user_stats
 * older than its 365-day TTL, movie_stats with TTL 0 never stale); a view page must show its
 * source, services and a sample of online values (present values equal to the CSV's latest rows
 * of 1996, expired and missing ones shown as such). Screenshots go to test-artifacts/features/.
 *
 * Needs Debian's chromium (CHROMIUM_PATH overrides /usr/bin/chromium). Without it the test is
 * skipped locally but fails under CI=true, so a CI image that lost its browser is noticed.
 */
import type { FastifyInstance } from 'fastify';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMetadataStore } from '../src/app/open-stores.js';
import { loadFeatureRepository } from '../src/features/feature-definitions.js';
import { materialize } from '../src/features/materialize.js';
import { DuckDBOfflineFeatureStore } from '../src/features/offline-store.js';
import { SqliteOnlineFeatureStore } from '../src/storage/sqlite-online-feature-store.js';
import { createServingApp } from '../src/serving/create-app.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import type { MetadataStore } from '../src/storage/metadata-store.js';
import { BROWSER_TESTS, buildDashboard, openBrowser, requireChromium } from './fixtures/browser.js';

const SHOTS = resolve('test-artifacts/features');
const REPO = 'examples/features';
const START = Date.UTC(1996, 0, 1);
const END = Date.UTC(1997, 0, 1);
const YEAR_S = 365 * 86_400;

/** Per entity key, its latest row with event time in [START, END), read from a source CSV. */
async function latestRows(
  file: string,
): Promise<Map<string, { eventTime: number; cells: string[] }>> {
  const [, ...lines] = (await readFile(join(REPO, file), 'utf8')).trim().split('\n');
  const latest = new Map<string, { eventTime: number; cells: string[] }>();
  for (const line of lines) {
    const [key, time, ...cells] = line.split(',');
    const eventTime = Number(time) * 1000;
    if (eventTime < START || eventTime >= END) continue;
    const had = latest.get(key!);
    if (had === undefined || had.eventTime < eventTime) latest.set(key!, { eventTime, cells });
  }
  return latest;
}

describe.skipIf(!BROWSER_TESTS)('features dashboard (chromium)', () => {
  let dir: string;
  let online: SqliteOnlineFeatureStore;
  let metadata: MetadataStore;
  let app: FastifyInstance;
  let browser: Browser;
  let page: Page;
  let base: string;

  beforeAll(async () => {
    requireChromium();
    dir = await mkdtemp(join(tmpdir(), 'kiban-features-dashboard-'));
    await mkdir(SHOTS, { recursive: true });
    const webRoot = join(dir, 'web');
    await buildDashboard(webRoot);

    const repo = await loadFeatureRepository(REPO);
    online = new SqliteOnlineFeatureStore(join(dir, 'features.db'));
    const offline = new DuckDBOfflineFeatureStore({ threads: 1 });
    try {
      await materialize({
        repo,
        offline,
        online,
        start: new Date(START),
        end: new Date(END),
        stepMs: END - START,
      });
    } finally {
      await offline.close();
    }
    metadata = await openMetadataStore(`sqlite:${join(dir, 'meta.db')}`);
    await metadata.featureRegistry.apply(repo, { appliedBy: 'test' });

    app = createServingApp({
      serving: new MemoryServingStore(),
      metadata,
      webRoot,
      features: { repo, online },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    ({ browser, page } = await openBrowser({ width: 1280, height: 900 }));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await online?.close();
    await metadata?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('lists the example views with freshness, and a view page shows sample online values', async () => {
    const users = await latestRows('data/user_stats.csv');
    const movies = await latestRows('data/movie_stats.csv');
    const newestUser = Math.max(...[...users.values()].map((r) => r.eventTime));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    await page.goto(`${base}/`);
    await page
      .locator('header.topbar')
      .getByRole('link', { name: 'Features', exact: true })
      .click();
    await expect.poll(() => page.getByTestId('view-row-user_stats').isVisible()).toBe(true);
    expect(page.url()).toBe(`${base}/features`);

    // Grouped by entity: one table per entity, each holding its view.
    expect(
      await page.getByTestId('entity-group-user').getByTestId('view-row-user_stats').count(),
    ).toBe(1);
    expect(
      await page.getByTestId('entity-group-movie').getByTestId('view-row-movie_stats').count(),
    ).toBe(1);
    expect(await page.getByTestId('entity-group-user').textContent()).toContain('user_id (int64)');
    // View, owner, features, TTL, freshness, services, version.
    const userCells = await page.getByTestId('view-row-user_stats').locator('td').allTextContents();
    expect(userCells[0]).toContain('user_stats');
    expect(userCells.slice(1)).toEqual([
      'recs-team',
      '3',
      '365 d',
      expect.any(String),
      'user_activity',
      'v1',
    ]);
    const movieCells = await page
      .getByTestId('view-row-movie_stats')
      .locator('td')
      .allTextContents();
    expect(movieCells.slice(1, 4)).toEqual(['recs-team', '2', 'never']);
    // user_stats' newest 1996 row is years older than its 365-day TTL: shown stale, in years.
    const userFresh = page.getByTestId('freshness-user_stats').locator('.freshness');
    const years = ((Date.now() - newestUser) / 1000 / YEAR_S).toFixed(1);
    expect(await userFresh.textContent()).toBe(`${years} y old · older than TTL`);
    expect(await userFresh.getAttribute('class')).toBe('freshness stale');
    const movieFresh = page.getByTestId('freshness-movie_stats').locator('.freshness');
    expect(await movieFresh.getAttribute('class')).toBe('freshness');
    expect(await movieFresh.textContent()).toMatch(/^\d+\.\d y old$/);
    await page.screenshot({ path: join(SHOTS, 'features.png'), fullPage: true });

    // movie_stats (TTL 0): the sampled values are present and are the CSV's latest of 1996.
    await page.getByRole('link', { name: 'movie_stats' }).click();
    await expect.poll(() => page.getByTestId('sample-values').isVisible()).toBe(true);
    expect(page.url()).toBe(`${base}/features/movie_stats`);
    expect(await page.getByTestId('view-source').textContent()).toContain('data/movie_stats.csv');
    expect(await page.getByTestId('service-row-popularity').isVisible()).toBe(true);
    const movieRows = page.getByTestId('sample-values').locator('tbody tr');
    expect(await movieRows.count()).toBe(Math.min(10, movies.size));
    for (const cells of await movieRows.evaluateAll((rows) =>
      rows.map((r) => Array.from(r.querySelectorAll('td'), (td) => td.textContent ?? '')),
    )) {
      const expected = movies.get(cells[0]!);
      expect(expected, `movie ${cells[0]} has a 1996 row`).toBeDefined();
      expect(cells.slice(1, 3).map(Number)).toEqual(expected!.cells.map(Number));
    }
    expect(
      await page.getByTestId('sample-values').locator('td[data-status="present"]').count(),
    ).toBe(2 * Math.min(10, movies.size));

    // user_stats: sampled rows are expired (value withheld); an unknown user is missing.
    await page
      .locator('header.topbar')
      .getByRole('link', { name: 'Features', exact: true })
      .click();
    await page.getByRole('link', { name: 'user_stats' }).click();
    await expect.poll(() => page.getByTestId('sample-values').isVisible()).toBe(true);
    const sampled = page.getByTestId('sample-values').locator('tbody tr');
    expect(await sampled.count()).toBe(Math.min(10, users.size));
    expect(
      await page.getByTestId('sample-values').locator('td[data-status="expired"]').count(),
    ).toBe(3 * Math.min(10, users.size));
    const [known] = [...users.keys()];
    await page.getByLabel('Entity keys').fill(`${known}, 999999999`);
    await page.getByRole('button', { name: 'Look up' }).click();
    await expect.poll(() => page.getByTestId('sample-row-999999999').isVisible()).toBe(true);
    expect(
      await page.getByTestId('sample-row-999999999').locator('td[data-status]').allTextContents(),
    ).toEqual(['missing', 'missing', 'missing']);
    const knownRow = page.getByTestId(`sample-row-${known}`);
    expect(await knownRow.locator('td[data-status]').allTextContents()).toEqual([
      'expired',
      'expired',
      'expired',
    ]);
    expect(await knownRow.locator('td.value-expired').count()).toBe(3);
    expect(await page.getByTestId('sample-values').locator('tbody tr').count()).toBe(2);
    await page.screenshot({ path: join(SHOTS, 'feature-view.png'), fullPage: true });

    // Reloading the page's own URL is served by the server (history routing).
    await page.reload();
    await expect.poll(() => page.getByTestId('sample-values').isVisible()).toBe(true);
    expect(errors).toEqual([]);
  }, 120_000);
});
