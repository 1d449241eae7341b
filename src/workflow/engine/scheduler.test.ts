import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMetadataStore } from '../../app/open-stores.js';
import type { MetadataStore } from '../../storage/metadata-store.js';
import { InlineExecutor } from '../executors/inline-executor.js';
import { readWorkflowFile } from '../parse-workflow.js';
import { postgresUrlForTests } from '../../../test/fixtures/postgres.js';
import { WorkflowScheduler, type SchedulerEvent } from './scheduler.js';
import { WorkflowCatalog } from './workflow-catalog.js';
import { WorkflowEngine } from './workflow-engine.js';

const EVERY_SECOND = (name: string, catchUp: 'skip' | 'run' = 'skip') =>
  `name: ${name}\nschedule: { cron: "* * * * * *", timezone: Asia/Tokyo, catchUp: ${catchUp} }\ntasks:\n  tick: { run: "echo $KIBAN_LOGICAL_DATE" }\n`;

/** Two schedulers (separate engines and store connections) on one database. */
async function twoSchedulers(
  url: string,
  dir: string,
  run: (
    a: WorkflowScheduler,
    b: WorkflowScheduler,
    stores: MetadataStore[],
    events: SchedulerEvent[],
  ) => Promise<void>,
): Promise<void> {
  const events: SchedulerEvent[] = [];
  const stores = [await openMetadataStore(url), await openMetadataStore(url)];
  const engines = stores.map(
    (s) =>
      new WorkflowEngine({
        store: s.workflows,
        executor: new InlineExecutor({ logs: s.workflows }),
        workRoot: join(dir, 'work'),
      }),
  );
  const schedulers = engines.map(
    (e) =>
      new WorkflowScheduler(e, new WorkflowCatalog({ dir }), {
        scanMs: 200,
        onEvent: (event) => events.push(event),
      }),
  );
  try {
    await run(schedulers[0], schedulers[1], stores, events);
  } finally {
    await Promise.all(schedulers.map((s) => s.stop()));
    await Promise.all(engines.map((e) => e.idle()));
    await Promise.all(engines.map((e) => e.close()));
    await Promise.all(stores.map((s) => s.close()));
  }
}

const stores: [string, (dir: string) => Promise<string>][] = [
  ['SQLite', async (dir) => `sqlite:${join(dir, 'meta.db')}`],
  [
    'PostgreSQL',
    async () => postgresUrlForTests(`kiban_sched_${process.pid}_${Date.now() % 100000}`),
  ],
];

describe.each(stores)('WorkflowScheduler on %s', (_label, urlFor) => {
  let dir: string;
  let url: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-sched-'));
    url = await urlFor(dir);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('two schedulers never start the same scheduled run twice', async () => {
    await writeFile(join(dir, 'tick.yaml'), EVERY_SECOND('tick'));
    await twoSchedulers(url, dir, async (a, b, [store], events) => {
      void a.start();
      void b.start();
      await new Promise((r) => setTimeout(r, 3500));
      await a.stop();
      await b.stop();
      const runs = await store.workflows.listRuns({ workflow: 'tick', limit: 100 });
      expect(runs.length).toBeGreaterThanOrEqual(2);
      const keys = runs.map((r) => r.scheduleKey);
      expect(new Set(keys).size).toBe(runs.length);
      // Both fired at each second; for every run one of them found the key taken.
      expect(events.filter((e) => e.type === 'started').length).toBe(runs.length);
      expect(events.filter((e) => e.type === 'taken').length).toBeGreaterThanOrEqual(
        runs.length - 1,
      );
      for (const r of runs) {
        expect(r.trigger).toBe('schedule');
        // Fire times are whole seconds and the logical date is the fire time.
        expect(r.logicalDate).toMatch(/\.000Z$/);
        expect(r.scheduleKey).toBe(`tick@${r.logicalDate}`);
      }
      // Consecutive fire times, none missing in the middle.
      const times = runs.map((r) => Date.parse(r.logicalDate)).sort((x, y) => x - y);
      for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(1000);
    });
  });

  it('after downtime, catchUp: run starts every missed run and catchUp: skip starts none', async () => {
    await rm(join(dir, 'tick.yaml'), { force: true });
    await writeFile(join(dir, 'missed-run.yaml'), EVERY_SECOND('missed-run', 'run'));
    await writeFile(join(dir, 'missed-skip.yaml'), EVERY_SECOND('missed-skip', 'skip'));
    const store = await openMetadataStore(url);
    const engine = new WorkflowEngine({
      store: store.workflows,
      executor: new InlineExecutor({ logs: store.workflows }),
      workRoot: join(dir, 'work'),
    });
    // The last scheduled runs were 5 s ago; the scheduler was down since.
    const last = new Date(Math.floor(Date.now() / 1000) * 1000 - 5000);
    for (const name of ['missed-run', 'missed-skip']) {
      const wf = await readWorkflowFile(join(dir, `${name}.yaml`));
      const run = await engine.createRun(wf, {
        trigger: 'schedule',
        logicalDate: last,
        scheduleKey: `${name}@${last.toISOString()}`,
      });
      await engine.runToEnd(run!.id);
    }
    const events: SchedulerEvent[] = [];
    const scheduler = new WorkflowScheduler(engine, new WorkflowCatalog({ dir }), {
      scanMs: 60_000,
      onEvent: (e) => events.push(e),
    });
    void scheduler.start();
    await new Promise((r) => setTimeout(r, 300));
    await scheduler.stop();
    await engine.idle();
    const caughtUp = events.filter((e) => e.type === 'started' && e.catchUp);
    expect(caughtUp.length).toBeGreaterThanOrEqual(4);
    expect(caughtUp.every((e) => e.type === 'started' && e.workflow === 'missed-run')).toBe(true);
    const skipped = events.find((e) => e.type === 'skipped');
    expect(skipped).toMatchObject({ workflow: 'missed-skip' });
    expect((skipped as { missed: number }).missed).toBeGreaterThanOrEqual(4);
    const runs = await store.workflows.listRuns({ workflow: 'missed-run', limit: 100 });
    expect(runs.filter((r) => r.status === 'succeeded').length).toBeGreaterThanOrEqual(5);
    await engine.close();
    await store.close();
  });
});
