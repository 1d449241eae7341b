/**
 * The services dashboard (issue 22) in a real browser against a real server: the app built by
 * Vite, a serving app with two services over their own memory stores (`default` at /v1 and
 * `booth` at /v1/services/booth), each with published versions of distinct lists and offline
 * metrics. The services page must list both with their current versions; booth's page must show
 * its published version, kind and metrics (not default's), the metrics across its held versions
 * and its version history; the explorer must show booth's items for a user (not default's), with
 * their source and explanations where the route gives them, and a user booth does not know gets
 * booth's popular items as a fallback; a rollback through the confirm dialog switches booth's
 * answers. With API keys required (a second app), a key without a service scope sees only default,
 * and a reader of every service without `admin` finds the Rollback buttons disabled.
 * Screenshots go to test-artifacts/services/.
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
import { ApiKeyAuthenticator } from '../src/auth/api-key-authenticator.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { createServingApp } from '../src/serving/create-app.js';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import type { ScoredItem } from '../src/storage/serving-store.js';
import { BROWSER_TESTS, buildDashboard, openBrowser, requireChromium } from './fixtures/browser.js';

const SHOTS = resolve('test-artifacts/services');

/** What one published version holds: its name, meta, users' lists and the popular list. */
interface Fixture {
  version: string;
  meta: Record<string, unknown>;
  users: Record<string, ScoredItem[]>;
  popular: ScoredItem[];
  /** Lists behind explanations: the users' training items and the items' related ones. */
  history?: Record<string, ScoredItem[]>;
  related?: Record<string, ScoredItem[]>;
  /** The users' recommended creators. */
  creators?: Record<string, ScoredItem[]>;
}

const DEFAULT_V1: Fixture = {
  version: 'default-v1',
  meta: { kind: 'popularity', modelId: 'm-default-1', metrics: { 'ndcg@10': 0.111 } },
  users: {
    u1: [
      { id: 'd-1', score: 0.9 },
      { id: 'd-2', score: 0.8 },
      { id: 'd-3', score: 0.7 },
    ],
  },
  popular: [
    { id: 'd-pop-1', score: 50 },
    { id: 'd-pop-2', score: 40 },
  ],
};

const BOOTH_V1: Fixture = {
  version: 'booth-v1',
  meta: {
    kind: 'item-knn',
    modelId: 'm-booth-1',
    metrics: { 'ndcg@10': 0.2125, 'recall@10': 0.3, coverage: 0.55 },
  },
  users: { u1: [{ id: 'b-old', score: 0.5 }] },
  popular: [{ id: 'b-pop-old', score: 9 }],
};

const BOOTH_V2: Fixture = {
  version: 'booth-v2',
  meta: {
    kind: 'als',
    modelId: 'm-booth-2',
    metrics: { 'ndcg@10': 0.3418, 'recall@10': 0.4125, coverage: 0.72 },
  },
  users: {
    u1: [
      { id: 'b-1', score: 0.95 },
      { id: 'b-2', score: 0.75 },
      { id: 'b-3', score: 0.5 },
      { id: 'b-4', score: 0.25 },
    ],
  },
  popular: [
    { id: 'b-pop-1', score: 30 },
    { id: 'b-pop-2', score: 20 },
  ],
  history: {
    u1: [
      { id: 'h-1', score: 1 },
      { id: 'h-2', score: 1 },
    ],
  },
  related: {
    'h-1': [
      { id: 'b-1', score: 0.6 },
      { id: 'b-2', score: 0.3 },
    ],
    'h-2': [{ id: 'b-1', score: 0.2 }],
  },
  creators: {
    u1: [
      { id: 'c-1', score: 0.8 },
      { id: 'c-2', score: 0.4 },
    ],
  },
};

async function publish(store: MemoryServingStore, fixture: Fixture): Promise<void> {
  const writer = await store.beginVersion(fixture.version, fixture.meta);
  await writer.putLists('user', Object.entries(fixture.users));
  await writer.putLists('popular', [['all', fixture.popular]]);
  if (fixture.history !== undefined)
    await writer.putLists('user-history', Object.entries(fixture.history));
  if (fixture.related !== undefined)
    await writer.putLists('related', Object.entries(fixture.related));
  if (fixture.creators !== undefined)
    await writer.putLists('user-creators', Object.entries(fixture.creators));
  await writer.commit();
}

/** The item ids of the explorer's table, in rank order. */
async function explorerIds(page: Page): Promise<string[]> {
  return page.getByTestId('explorer-items').locator('tbody tr code.rec-id').allTextContents();
}

describe.skipIf(!BROWSER_TESTS)('services dashboard (chromium)', () => {
  let dir: string;
  let app: FastifyInstance;
  let browser: Browser;
  let page: Page;
  let base: string;
  /** A second app with API keys required, over stores of its own. */
  let authApp: FastifyInstance;
  let authBase: string;
  let metadata: KyselyMetadataStore;
  const keys = { reader: '', defaultOnly: '' };

  beforeAll(async () => {
    requireChromium();
    dir = await mkdtemp(join(tmpdir(), 'kiban-services-dashboard-'));
    await mkdir(SHOTS, { recursive: true });
    const webRoot = join(dir, 'web');
    await buildDashboard(webRoot);

    const serving = new MemoryServingStore();
    await publish(serving, DEFAULT_V1);
    const booth = new MemoryServingStore();
    await publish(booth, BOOTH_V1);
    await publish(booth, BOOTH_V2);

    app = createServingApp({ serving, webRoot, services: [{ name: 'booth', serving: booth }] });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    metadata = KyselyMetadataStore.sqlite(join(dir, 'meta.db'));
    await metadata.migrate();
    const pepper = 'p'.repeat(32);
    for (const [name, scopes] of [
      ['reader', ['recs:read', 'models:read', 'service:*']],
      ['defaultOnly', ['recs:read', 'models:read']],
    ] as const)
      keys[name] = (
        await createApiKey(metadata.apiKeys, pepper, {
          name,
          scopes: [...scopes],
          createdBy: 'test',
        })
      ).key;
    const authServing = new MemoryServingStore();
    await publish(authServing, DEFAULT_V1);
    const authBooth = new MemoryServingStore();
    await publish(authBooth, BOOTH_V1);
    await publish(authBooth, BOOTH_V2);
    authApp = createServingApp({
      serving: authServing,
      metadata,
      webRoot,
      services: [{ name: 'booth', serving: authBooth }],
      auth: {
        mode: 'required',
        authenticators: [new ApiKeyAuthenticator({ store: metadata.apiKeys, pepper })],
      },
    });
    await authApp.listen({ port: 0, host: '127.0.0.1' });
    const authAddress = authApp.server.address();
    authBase = `http://127.0.0.1:${typeof authAddress === 'object' && authAddress ? authAddress.port : 0}`;
    ({ browser, page } = await openBrowser({ width: 1280, height: 900 }));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await authApp?.close();
    await metadata?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("lists both services, shows booth's metrics and history, and explores booth's recommendations with their sources and explanations", async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    // Services page, from the top bar.
    await page.goto(`${base}/`);
    await page
      .locator('header.topbar')
      .getByRole('link', { name: 'Services', exact: true })
      .click();
    await page.getByTestId('service-row-booth').waitFor();
    expect(page.url()).toBe(`${base}/services`);
    expect(await page.getByTestId('service-version-default').textContent()).toBe('default-v1');
    expect(await page.getByTestId('service-version-booth').textContent()).toBe('booth-v2');
    expect(await page.getByTestId('service-row-booth').locator('td').nth(1).textContent()).toBe(
      '/v1/services/booth',
    );
    await expect.poll(() => page.getByTestId('service-kind-booth').textContent()).toBe('als');
    await expect
      .poll(() => page.getByTestId('service-kind-default').textContent())
      .toBe('popularity');
    expect(await page.getByTestId('service-metrics-booth').textContent()).toContain(
      'ndcg@10 0.3418',
    );
    await page.screenshot({ path: join(SHOTS, 'services.png'), fullPage: true });

    // Booth's page: its published version, kind and metrics, not default's.
    await page.getByRole('link', { name: 'booth', exact: true }).click();
    await page.getByTestId('published-version').waitFor();
    expect(page.url()).toBe(`${base}/services/booth`);
    expect(await page.getByTestId('published-version-name').textContent()).toBe('booth-v2');
    expect(await page.getByTestId('published-kind').textContent()).toBe('als');
    const metricRows = await page
      .getByTestId('published-metrics')
      .locator('tr')
      .evaluateAll((rows) =>
        rows.map((r) => Array.from(r.querySelectorAll('td'), (td) => td.textContent ?? '')),
      );
    expect(metricRows).toEqual([
      ['ndcg@10', '0.3418'],
      ['recall@10', '0.4125'],
      ['coverage', '0.7200'],
    ]);
    expect(await page.getByTestId('published-version').textContent()).not.toContain('0.111');
    // One chart per metric.
    await page.getByTestId('metric-chart-ndcg@10').waitFor();
    expect(await page.getByTestId('metrics-chart').locator('figure').count()).toBe(3);

    // Both held versions, newest first, the current one without a rollback button.
    await page.getByTestId('version-history').waitFor();
    const rows = page.getByTestId('version-history').locator('tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).getAttribute('data-testid')).toBe('version-row-booth-v2');
    expect(await rows.nth(1).getAttribute('data-testid')).toBe('version-row-booth-v1');
    expect(await page.getByTestId('version-row-booth-v2').getByRole('button').count()).toBe(0);
    // Bars for both versions in each metric's chart.
    expect(await page.getByTestId('metric-chart-ndcg@10').locator('rect.metric-bar').count()).toBe(
      2,
    );

    // The explorer: booth's list for u1, best first, none of default's items.
    await page.getByLabel('User id').fill('u1');
    await page.getByLabel('k').fill('3');
    await page.getByRole('button', { name: 'Recommend' }).click();
    await page.getByTestId('explorer-items').waitFor();
    expect(await explorerIds(page)).toEqual(['b-1', 'b-2', 'b-3']);
    expect(await page.getByTestId('explorer-fallback').count()).toBe(0);
    expect(await page.getByTestId('rec-row-b-1').locator('td').nth(2).textContent()).toBe('0.9500');
    expect(page.url()).toBe(`${base}/services/booth?user=u1&k=3`);
    // b-1 came from u1's own list, explained by u1's items whose related lists hold it.
    const cells = page.getByTestId('rec-row-b-1').locator('td');
    expect(await cells.nth(3).textContent()).toBe('personal');
    expect(await cells.nth(4).locator('.reason code').allTextContents()).toEqual(['h-1', 'h-2']);
    // booth's creators for u1 (its version has creator lists).
    await page.getByTestId('explorer-creators').waitFor();
    expect(
      await page.getByTestId('explorer-creators').locator('tbody tr code').allTextContents(),
    ).toEqual(['c-1', 'c-2']);
    await page.screenshot({ path: join(SHOTS, 'service-booth.png'), fullPage: true });

    // A user booth does not know: booth's popular items, marked as the fallback.
    await page.getByLabel('User id').fill('nobody');
    await page.getByLabel('k').fill('10');
    await page.getByRole('button', { name: 'Recommend' }).click();
    await page.getByTestId('explorer-fallback').waitFor();
    expect(await explorerIds(page)).toEqual(['b-pop-1', 'b-pop-2']);

    // Default's page: default's list for the same user.
    await page.goto(`${base}/services/default?user=u1&k=3`);
    await page.getByTestId('explorer-items').waitFor();
    expect(await explorerIds(page)).toEqual(['d-1', 'd-2', 'd-3']);
    expect(await page.getByTestId('published-version-name').textContent()).toBe('default-v1');
    // default's version has no creator lists (a 404): no creators table.
    expect(await page.getByTestId('explorer-creators').count()).toBe(0);

    // Roll booth back to booth-v1 through the confirm dialog: its list answers at once.
    await page.goto(`${base}/services/booth`);
    await page
      .getByTestId('version-row-booth-v1')
      .getByRole('button', { name: 'Rollback' })
      .click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('booth-v1');
    await page.screenshot({ path: join(SHOTS, 'rollback-confirm.png'), fullPage: true });
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await page.getByTestId('rollback-done').waitFor();
    await expect
      .poll(() => page.getByTestId('published-version-name').textContent())
      .toBe('booth-v1');
    await page.getByLabel('User id').fill('u1');
    await page.getByRole('button', { name: 'Recommend' }).click();
    // booth-v1's own list for u1 leads (a fallback chain may fill the page after it).
    await expect.poll(async () => (await explorerIds(page))[0]).toBe('b-old');

    // Reloading a service page's own URL is served by the server (history routing).
    await page.reload();
    await page.getByTestId('published-version').waitFor();

    // A service the server does not have.
    await page.goto(`${base}/services/nope`);
    await page.getByTestId('service-unknown').waitFor();
    expect(errors).toEqual([]);
  }, 120_000);

  it('lists only the services a key may use, and disables rollback without the admin scope', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    // A key with no service scope uses default only: booth is not listed.
    await page.setExtraHTTPHeaders({ authorization: `Bearer ${keys.defaultOnly}` });
    await page.goto(`${authBase}/services`);
    await page.getByTestId('service-row-default').waitFor();
    expect(await page.getByTestId('service-row-booth').count()).toBe(0);

    // A reader of every service (service:*) without admin: booth's page, history and explorer
    // work, every Rollback button is disabled saying why.
    await page.setExtraHTTPHeaders({ authorization: `Bearer ${keys.reader}` });
    await page.goto(`${authBase}/services`);
    await page.getByTestId('service-row-booth').waitFor();
    await page.getByRole('link', { name: 'booth', exact: true }).click();
    await page.getByTestId('version-history').waitFor();
    expect(await page.getByTestId('published-version-name').textContent()).toBe('booth-v2');
    const rollback = page.getByTestId('version-row-booth-v1').getByRole('button', {
      name: 'Rollback',
    });
    await expect.poll(() => rollback.isDisabled()).toBe(true);
    expect(await rollback.getAttribute('title')).toBe('Rolling back needs the admin scope.');
    await page.getByTestId('rollback-needs-admin').waitFor();
    await page.getByLabel('User id').fill('u1');
    await page.getByLabel('k').fill('3');
    await page.getByRole('button', { name: 'Recommend' }).click();
    await page.getByTestId('explorer-items').waitFor();
    expect(await explorerIds(page)).toEqual(['b-1', 'b-2', 'b-3']);
    await page.screenshot({ path: join(SHOTS, 'service-booth-reader.png'), fullPage: true });
    await page.setExtraHTTPHeaders({});
    expect(errors).toEqual([]);
  }, 120_000);
});
