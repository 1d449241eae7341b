/**
 * The A/B testing dashboard in a real browser against a real server: the app built by Vite, the
 * serving app with the experiment API over a SQLite metadata store, events sent through the HTTP
 * API. Two experiments: a healthy one with a clear winner over three days, and one whose logging
 * lost a third of the treatment's exposures (a sample ratio mismatch the page must flag).
 * Screenshots go to test-artifacts/experiments/.
 *
 * Needs Debian's chromium (CHROMIUM_PATH overrides /usr/bin/chromium); fails under CI=true without it.
 */
import type { FastifyInstance } from 'fastify';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../src/bandits/bandit-policy.js';
import { assignUnit } from '../src/experiments/assign.js';
import { createServingApp } from '../src/serving/create-app.js';
import { ExperimentService } from '../src/experiments/experiment-service.js';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { BROWSER_TESTS, buildDashboard, openBrowser, requireChromium } from './fixtures/browser.js';
import { callOk as call } from './fixtures/http-json.js';

const SHOTS = resolve('test-artifacts/experiments');
const DAY = 86_400_000;
const T0 = Date.parse('2026-11-20T00:00:00Z');

/** Sends exposures (and conversions at `rates`) for `units` units over three days; `keep` drops some treatment exposures. */
async function simulate(
  base: string,
  name: string,
  units: number,
  rates: Record<string, number>,
  keep: (variant: string, k: number) => boolean,
): Promise<Record<string, number>> {
  const definition = await call(base, 'GET', `/v1/experiments/${name}`);
  const random = seededRandom(11);
  const events: object[] = [];
  const shown: Record<string, number> = {};
  for (let k = 0; k < units; k++) {
    const unit = `${name}-u${k}`;
    const variant = assignUnit([definition], unit)[0]!.variant;
    if (!keep(variant, k)) continue;
    shown[variant] = (shown[variant] ?? 0) + 1;
    const time = T0 + Math.floor((3 * k) / units) * DAY + k;
    events.push({ eventId: `${unit}-x`, type: 'exposure', experiment: name, unit, variant, time });
    if (random() < rates[variant]!)
      events.push({
        eventId: `${unit}-c`,
        type: 'conversion',
        experiment: name,
        unit,
        metric: 'signup',
        time: time + 60_000,
      });
  }
  for (let k = 0; k < events.length; k += 1000)
    await call(base, 'POST', '/v1/events', { events: events.slice(k, k + 1000) });
  return shown;
}

describe.skipIf(!BROWSER_TESTS)('experiment dashboard (chromium)', () => {
  let dir: string;
  let metadata: KyselyMetadataStore;
  let app: FastifyInstance;
  let browser: Browser;
  let page: Page;
  let base: string;

  beforeAll(async () => {
    requireChromium();
    dir = await mkdtemp(join(tmpdir(), 'kiban-experiment-dashboard-'));
    await mkdir(SHOTS, { recursive: true });
    const webRoot = join(dir, 'web');
    await buildDashboard(webRoot);
    metadata = KyselyMetadataStore.sqlite(join(dir, 'meta.db'));
    await metadata.migrate();
    app = createServingApp({
      serving: new MemoryServingStore(),
      metadata,
      webRoot,
      experiments: new ExperimentService(metadata.experiments),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    ({ browser, page } = await openBrowser({ width: 1280, height: 1000 }));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await metadata?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('lists experiments and shows results, intervals, cumulative lift, SRM and data quality', async () => {
    const arms = {
      variants: [
        { name: 'control', weight: 1 },
        { name: 'treatment', weight: 1 },
      ],
    };
    await call(base, 'PUT', '/v1/experiments/signup-button', {
      ...arms,
      description: 'green signup button',
    });
    await call(base, 'PUT', '/v1/experiments/lossy-logging', arms);
    await call(base, 'PUT', '/v1/experiments/later', arms);
    await call(base, 'POST', '/v1/experiments/signup-button/start');
    await call(base, 'POST', '/v1/experiments/lossy-logging/start');
    const shown = await simulate(
      base,
      'signup-button',
      3000,
      { control: 0.1, treatment: 0.15 },
      () => true,
    );
    // A third of the treatment's exposures never reach the server.
    await simulate(
      base,
      'lossy-logging',
      3000,
      { control: 0.1, treatment: 0.1 },
      (variant, k) => variant === 'control' || k % 3 !== 0,
    );
    // One unit in both variants, flagged in the data-quality counts.
    await call(base, 'POST', '/v1/events', {
      events: [
        {
          eventId: 'b1',
          type: 'exposure',
          experiment: 'signup-button',
          unit: 'both',
          variant: 'control',
          time: T0,
        },
        {
          eventId: 'b2',
          type: 'exposure',
          experiment: 'signup-button',
          unit: 'both',
          variant: 'treatment',
          time: T0 + 1,
        },
      ],
    });

    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/`);
    await page.getByRole('link', { name: 'Experiments', exact: true }).click();
    await expect
      .poll(() => page.getByTestId('experiment-row-signup-button').isVisible())
      .toBe(true);
    expect(
      await page.getByTestId('experiment-row-later').locator('[data-status]').textContent(),
    ).toBe('draft');
    expect(
      await page.getByTestId('experiment-row-signup-button').locator('[data-status]').textContent(),
    ).toBe('running');
    await page.screenshot({ path: join(SHOTS, 'experiments.png'), fullPage: true });

    await page.getByRole('link', { name: 'signup-button' }).click();
    await expect.poll(() => page.getByTestId('results-table').isVisible()).toBe(true);
    expect(page.url()).toBe(`${base}/experiments/signup-button`);
    const results = await call(base, 'GET', '/v1/experiments/signup-button/results');
    for (const v of results.variants) {
      const cells = await page
        .getByTestId(`result-row-${v.variant}`)
        .locator('td')
        .allTextContents();
      expect(Number(cells[1]!.replaceAll(',', ''))).toBe(shown[v.variant]);
      expect(cells[4]).toBe(`${(v.rate * 100).toFixed(2)}%`);
    }
    const treatmentCells = await page
      .getByTestId('result-row-treatment')
      .locator('td')
      .allTextContents();
    expect(treatmentCells[6]).toContain(
      `${(results.comparisons[0].relative.estimate * 100).toFixed(1)}%`,
    );
    // One interval per treatment, the cumulative lift as a line over the three days, no SRM warning.
    expect(await page.getByTestId('interval-chart').locator('circle.interval-dot').count()).toBe(1);
    expect(await page.getByTestId('lift-chart').locator('polyline.lift-line').count()).toBe(1);
    expect(await page.getByTestId('lift-chart').locator('circle.lift-dot').count()).toBe(3);
    expect(await page.getByTestId('srm-warning').count()).toBe(0);
    expect(await page.getByTestId('quality-multi').textContent()).toBe('1');
    await page.screenshot({ path: join(SHOTS, 'experiment.png'), fullPage: true });

    await page.goto(`${base}/experiments/lossy-logging`);
    await expect.poll(() => page.getByTestId('srm-warning').isVisible()).toBe(true);
    expect(await page.getByTestId('srm-warning').textContent()).toMatch(/Sample ratio mismatch/);
    await page.screenshot({ path: join(SHOTS, 'experiment-srm.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 120_000);
});
