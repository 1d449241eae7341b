/**
 * The workflow dashboard in a real browser against a real server: the app built by Vite, the
 * serving app with the workflow API, the engine running shell tasks inline, runs recorded in a
 * SQLite metadata store. Screenshots of each page go to test-artifacts/dashboard/.
 *
 * Needs Debian's chromium (CHROMIUM_PATH overrides /usr/bin/chromium). Without it the test is
 * skipped locally but fails under CI=true, so a CI image that lost its browser is noticed.
 */
import type { FastifyInstance } from 'fastify';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMetadataStore } from '../src/app/open-stores.js';
import { createServingApp } from '../src/serving/create-app.js';
import type { MetadataStore } from '../src/storage/metadata-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { createWorkflowService } from '../src/workflow/engine/create-workflow-service.js';
import type { WorkflowEngine } from '../src/workflow/engine/workflow-engine.js';
import { InlineExecutor } from '../src/workflow/executors/inline-executor.js';
import { BROWSER_TESTS, buildDashboard, openBrowser, requireChromium } from './fixtures/browser.js';

const SHOTS = resolve('test-artifacts/dashboard');

// Each task takes about a second, so the page has time to show them running.
const ETL = `name: etl
description: extract, transform and load the daily events
schedule: { cron: "30 2 * * *", timezone: Europe/Berlin }
tasks:
  extract: { run: "echo extracting; sleep 1; echo 1200 rows" }
  clean: { run: "sleep 1; echo cleaned", needs: [extract] }
  features: { run: "sleep 1; echo features built", needs: [extract] }
  load: { run: "sleep 1; echo loaded", needs: [clean, features] }
`;
// train fails until the file "fixed" exists beside the workflow (shell tasks run there).
const FRAGILE = `name: fragile
description: trains a model; the second task fails until fixed
tasks:
  prepare: { run: "sleep 1; echo prepared" }
  train:
    needs: [prepare]
    run: |
      echo "training on attempt $KIBAN_ATTEMPT"
      if [ -f fixed ]; then echo "model trained"; else echo "ValueError: column user_id missing in events.csv" >&2; exit 1; fi
  publish: { run: "echo published", needs: [train] }
`;

describe.skipIf(!BROWSER_TESTS)('workflow dashboard (chromium)', () => {
  let dir: string;
  let metadata: MetadataStore;
  let executor: InlineExecutor;
  let engine: WorkflowEngine;
  let app: FastifyInstance;
  let browser: Browser;
  let page: Page;
  let base: string;
  const serving = new MemoryServingStore();
  const shot = (name: string) =>
    page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const stateOf = (task: string) => page.getByTestId(`dag-node-${task}`).getAttribute('data-state');

  beforeAll(async () => {
    requireChromium();
    dir = await mkdtemp(join(tmpdir(), 'kiban-dashboard-'));
    const workflows = join(dir, 'workflows');
    await mkdir(workflows);
    await writeFile(join(workflows, 'etl.yaml'), ETL);
    await writeFile(join(workflows, 'fragile.yaml'), FRAGILE);
    await mkdir(SHOTS, { recursive: true });

    // Build the dashboard from the current sources, so the test never sees a stale dist/web.
    const webRoot = join(dir, 'web');
    await buildDashboard(webRoot);

    metadata = await openMetadataStore(`sqlite:${join(dir, 'meta.db')}`);
    executor = new InlineExecutor({ logs: metadata.workflows });
    engine = await createWorkflowService({
      dir: workflows,
      metadata,
      executor,
      workRoot: join(dir, 'work'),
    });
    app = createServingApp({ serving, metadata, workflows: engine, webRoot });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    ({ browser, page } = await openBrowser({ width: 1280, height: 860 }));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await engine?.close();
    await executor?.close();
    await metadata?.close();
    await serving.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('runs a workflow from the list and shows it live until every task is green', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/`);
    await expect.poll(() => page.getByTestId('workflow-row-etl').isVisible()).toBe(true);
    await expect
      .poll(() => page.getByTestId('workflow-row-fragile').textContent())
      .toContain('the second task fails until fixed');
    expect(await page.getByTestId('workflow-row-etl').textContent()).toContain('30 2 * * *');
    await shot('workflows');

    await page.getByTestId('run-now-etl').click();
    await page.waitForURL(/\/runs\/etl-/);
    // Live: a task shows running, then the run finishes, all without reloading the page.
    await page.waitForSelector('[data-testid^="dag-node-"][data-state="running"]');
    await shot('run-running');
    await page.waitForSelector('[data-testid="run-status"][data-status="succeeded"]', {
      timeout: 30_000,
    });
    for (const task of ['extract', 'clean', 'features', 'load'])
      expect(await stateOf(task)).toBe('succeeded');
    // Parallel tasks sit in the same column of the layered layout, load in the next.
    const x = async (task: string) => (await page.getByTestId(`dag-node-${task}`).boundingBox())!.x;
    expect(await x('clean')).toBe(await x('features'));
    expect(await x('load')).toBeGreaterThan(await x('clean'));
    expect(await x('clean')).toBeGreaterThan(await x('extract'));
    expect(await page.locator('[data-testid^="gantt-bar-"]').count()).toBe(4);

    await page.getByTestId('task-row-extract').click();
    await expect.poll(() => page.getByTestId('log-lines').textContent()).toContain('1200 rows');
    await shot('run-succeeded');

    await page.getByRole('link', { name: 'etl', exact: true }).click();
    await page.waitForSelector('[data-testid="workflow-page"]');
    expect(await page.getByTestId('runs-table').textContent()).toContain('succeeded');
    await shot('workflow');
    expect(errors).toEqual([]);
  }, 90_000);

  it('shows a failed task’s error in its log, and a retry runs it again as a new attempt', async () => {
    await page.goto(`${base}/`);
    await page.getByTestId('run-now-fragile').click();
    await page.waitForURL(/\/runs\/fragile-/);
    await page.waitForSelector('[data-testid="run-status"][data-status="failed"]', {
      timeout: 30_000,
    });
    expect(await stateOf('prepare')).toBe('succeeded');
    expect(await stateOf('train')).toBe('failed');
    expect(await stateOf('publish')).toBe('upstream_failed');

    await page.getByTestId('dag-node-train').click();
    await expect
      .poll(() => page.getByTestId('log-lines').textContent())
      .toContain('ValueError: column user_id missing in events.csv');
    expect(await page.getByTestId('log-lines').textContent()).toContain('training on attempt 1');
    await shot('run-failed');

    await writeFile(join(dir, 'workflows', 'fixed'), '');
    await page.getByTestId('retry-button').click();
    await page.waitForSelector('[data-testid="run-status"][data-status="succeeded"]', {
      timeout: 30_000,
    });
    expect(await page.getByTestId('task-attempts-train').textContent()).toBe('2');
    expect(await page.getByTestId('gantt-bar-train-1').getAttribute('class')).toContain(
      'state-failed',
    );
    expect(await page.getByTestId('gantt-bar-train-2').getAttribute('class')).toContain(
      'state-succeeded',
    );
    expect(await stateOf('publish')).toBe('succeeded');
    // The open log followed the new attempt.
    await expect.poll(() => page.getByTestId('log-lines').textContent()).toContain('model trained');
    expect(await page.getByTestId('task-attempts-prepare').textContent()).toBe('1');
    await shot('run-retried');

    await page.getByRole('link', { name: 'Workflows' }).first().click();
    await page.waitForSelector('[data-testid="last-run-fragile"][data-status="succeeded"]');
    expect(await page.getByTestId('last-run-etl').getAttribute('data-status')).toBe('succeeded');
    await shot('workflows-after-runs');
  }, 90_000);
});
