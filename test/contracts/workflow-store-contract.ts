import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError } from '../../src/core/errors.js';
import type { MetadataStore } from '../../src/storage/metadata-store.js';
import type { TaskDefinition, WorkflowDefinition } from '../../src/workflow/workflow-definition.js';
import type { WorkflowStore } from '../../src/workflow/workflow-store.js';

/** A fixed instant with a non-zero millisecond part, so that truncation to seconds would show. */
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0, 7);
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);
const HOUR = 3_600_000;

function task(
  name: string,
  needs: string[] = [],
  extra: Partial<TaskDefinition> = {},
): TaskDefinition {
  return {
    name,
    kind: 'shell',
    run: `echo ${name}`,
    needs,
    retry: { count: 2, backoffMs: 10_000, maxBackoffMs: HOUR },
    timeoutMs: null,
    params: {},
    ...extra,
  };
}

/** A definition whose JSON exercises nesting, unicode, key order and number edge cases. */
export function sampleDefinition(
  name = 'recommend',
  taskNames = ['aggregate', 'train', 'publish'],
): WorkflowDefinition {
  return {
    name,
    description: 'nightly recs ✓ "quoted"',
    schedule: { cron: '0 3 * * *', timezone: 'Europe/Paris', catchUp: 'run' },
    params: { date: '2026-11-25', factors: 64, dryRun: false },
    waitFor: [{ workflow: 'ingest' }],
    expectedDurationMs: 5_400_000,
    notify: { on: ['failure', 'overdue'] },
    tasks: taskNames.map((n, i) =>
      task(n, i === 0 ? [] : [taskNames[i - 1]], {
        params: { z: 1.5e300, nested: { list: [1, 'two', null, true] }, alpha: 1e-7, i },
      }),
    ),
    source: 'examples/workflows/recommend.yaml',
  };
}

type NewRun = Parameters<WorkflowStore['createRun']>[0];

function newRun(id: string, overrides: Partial<NewRun> = {}): NewRun {
  return {
    id,
    workflow: 'recommend',
    logicalDate: '2026-11-25T00:00:00.000Z',
    trigger: 'manual',
    params: { factors: 32, full: true, label: 'x' },
    definition: sampleDefinition(overrides.workflow ?? 'recommend'),
    owner: 'host-a/100/aaaaaa',
    createdAt: at(0),
    ...overrides,
  };
}

/** What a contract factory gives: a fresh, unmigrated store over an empty database. */
export interface WorkflowStoreFixture {
  store: MetadataStore;
  /** Another store over the same database, when the backend can have one (not `:memory:`). */
  another?: () => MetadataStore;
}

/**
 * The conformance suite of {@link WorkflowStore}, run through `MetadataStore.workflows`. The
 * suite migrates and closes every store it is given.
 */
export function describeWorkflowStore(
  name: string,
  factory: () => WorkflowStoreFixture | Promise<WorkflowStoreFixture>,
): void {
  describe(`WorkflowStore contract: ${name}`, () => {
    const open: MetadataStore[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    const fresh = async (): Promise<{
      wf: WorkflowStore;
      another?: () => Promise<WorkflowStore>;
    }> => {
      const fixture = await factory();
      open.push(fixture.store);
      await fixture.store.migrate();
      const make = fixture.another;
      if (make === undefined) return { wf: fixture.store.workflows };
      return {
        wf: fixture.store.workflows,
        another: async () => {
          const other = make();
          open.push(other);
          await other.migrate();
          return other.workflows;
        },
      };
    };

    it('creates a running run, owned by its creator, with every task pending in definition order', async () => {
      const { wf } = await fresh();
      // Names out of alphabetical order, so that a sort by name would show.
      const definition = sampleDefinition('recommend', ['zeta', 'alpha', 'mid', 'beta']);
      expect(await wf.createRun(newRun('r1', { definition, scheduleKey: null }))).toBe(true);
      const run = await wf.getRun('r1');
      expect(run).toEqual({
        id: 'r1',
        workflow: 'recommend',
        logicalDate: '2026-11-25T00:00:00.000Z',
        trigger: 'manual',
        status: 'running',
        params: { factors: 32, full: true, label: 'x' },
        definition,
        scheduleKey: null,
        createdAt: at(0),
        finishedAt: null,
        error: null,
        owner: 'host-a/100/aaaaaa',
        heartbeatAt: at(0),
      });
      const tasks = await wf.getTasks('r1');
      expect(tasks.map((t) => t.task)).toEqual(['zeta', 'alpha', 'mid', 'beta']);
      expect(tasks[0]).toEqual({
        runId: 'r1',
        task: 'zeta',
        status: 'pending',
        attempt: 0,
        failures: 0,
        startedAt: null,
        finishedAt: null,
        nextAttemptAt: null,
        error: null,
        output: {},
      });
      expect(tasks.every((t) => t.status === 'pending')).toBe(true);
    });

    it('round-trips the definition and params exactly', async () => {
      const { wf } = await fresh();
      const definition = sampleDefinition();
      const params = { big: 9007199254740991, tiny: 5e-324, text: 'ünïcödé ✓', flag: false };
      await wf.createRun(newRun('r', { definition, params }));
      const back = await wf.getRun('r');
      expect(back?.definition).toEqual(definition);
      // Same text: same key order and number forms, which toEqual alone would not show.
      expect(JSON.stringify(back?.definition)).toBe(JSON.stringify(definition));
      expect(JSON.stringify(back?.params)).toBe(JSON.stringify(params));
      // A definition spelling out an optional field as undefined stores like one leaving it out.
      const loose = { ...sampleDefinition(), description: undefined };
      await wf.createRun(newRun('r2', { definition: loose }));
      expect(JSON.stringify((await wf.getRun('r2'))?.definition)).toBe(JSON.stringify(loose));
    });

    it('gives null or nothing for unknown ids, and NotFoundError when updating them', async () => {
      const { wf } = await fresh();
      expect(await wf.getRun('ghost')).toBeNull();
      expect(await wf.getTasks('ghost')).toEqual([]);
      expect(await wf.listAttempts('ghost')).toEqual([]);
      expect(await wf.readLogs('ghost', 't')).toEqual([]);
      expect(await wf.listRuns()).toEqual([]);
      expect(await wf.latestRunPerWorkflow()).toEqual([]);
      expect(await wf.latestScheduledRun('recommend')).toBeNull();
      expect(await wf.claimRun('ghost', 'me', { staleBefore: at(0), force: true })).toBe(false);
      expect(await wf.heartbeat('ghost', 'me')).toBe(false);
      await wf.releaseRun('ghost', 'me');
      expect(await wf.finishAttempt('ghost', 't', 1, { status: 'failed', finishedAt: at(1) })).toBe(
        false,
      );
      await expect(wf.updateRun('ghost', { status: 'failed' })).rejects.toThrow(NotFoundError);
      await expect(wf.updateRun('ghost', {})).rejects.toThrow('workflow run "ghost" not found');
      await expect(wf.updateTask('ghost', 't', { status: 'running' })).rejects.toThrow(
        NotFoundError,
      );
      await expect(
        wf.startAttempt({ runId: 'ghost', task: 't', attempt: 1, startedAt: at(0), worker: null }),
      ).rejects.toThrow(NotFoundError);
      await expect(
        wf.appendLogs('ghost', 't', 1, [{ at: at(0), stream: 'log', line: 'x' }]),
      ).rejects.toThrow('workflow run "ghost" not found');

      await wf.createRun(newRun('r'));
      await expect(wf.updateTask('r', 'nope', { status: 'running' })).rejects.toThrow(
        'task "nope" of workflow run "r" not found',
      );
      await expect(wf.updateTask('r', 'nope', {})).rejects.toThrow(NotFoundError);
      await expect(
        wf.startAttempt({ runId: 'r', task: 'nope', attempt: 1, startedAt: at(0), worker: null }),
      ).rejects.toThrow(NotFoundError);
    });

    it('refuses a second run with the same schedule key, and a duplicate id', async () => {
      const { wf } = await fresh();
      const key = 'recommend@2026-11-25T03:00:00.000Z';
      expect(await wf.createRun(newRun('s1', { trigger: 'schedule', scheduleKey: key }))).toBe(
        true,
      );
      expect(
        await wf.createRun(newRun('s2', { trigger: 'schedule', scheduleKey: key, owner: 'other' })),
      ).toBe(false);
      expect(await wf.getRun('s2')).toBeNull();
      expect(await wf.getTasks('s2')).toEqual([]);
      expect((await wf.getRun('s1'))?.owner).toBe('host-a/100/aaaaaa');
      // Runs without a key never clash with each other.
      expect(await wf.createRun(newRun('m1'))).toBe(true);
      expect(await wf.createRun(newRun('m2', { scheduleKey: null }))).toBe(true);
      await expect(wf.createRun(newRun('m1', { workflow: 'other' }))).rejects.toThrow(
        /^run\.id: a workflow run with id "m1" is already recorded/,
      );
      expect((await wf.getRun('m1'))?.workflow).toBe('recommend');
      expect(await wf.getTasks('m1')).toHaveLength(3);
    });

    it('lets exactly one of several racing creators start a scheduled run', async () => {
      const { wf, another } = await fresh();
      const stores = another === undefined ? [wf, wf, wf] : [wf, await another(), await another()];
      const key = 'recommend@2026-11-26T03:00:00.000Z';
      const created = await Promise.all(
        stores.map((s, i) =>
          s.createRun(
            newRun(`race-${i}`, { trigger: 'schedule', scheduleKey: key, owner: `owner-${i}` }),
          ),
        ),
      );
      expect(created.filter(Boolean)).toHaveLength(1);
      const winner = created.indexOf(true);
      const runs = await wf.listRuns();
      expect(runs.map((r) => r.id)).toEqual([`race-${winner}`]);
      expect(runs[0]).toMatchObject({ scheduleKey: key, owner: `owner-${winner}` });
      expect(await wf.getTasks(`race-${winner}`)).toHaveLength(3);
    });

    it('claims a run by compare-and-set: a live owner keeps it, a stale one loses it, force takes it', async () => {
      const { wf } = await fresh();
      await wf.createRun(newRun('r', { owner: 'a', createdAt: new Date() }));
      const lease = 60_000;
      const staleBefore = () => new Date(Date.now() - lease);

      expect(await wf.claimRun('r', 'b', { staleBefore: staleBefore() })).toBe(false);
      expect((await wf.getRun('r'))?.owner).toBe('a');
      // The owner itself may claim again (it refreshes the heartbeat).
      const before = Date.now();
      expect(await wf.claimRun('r', 'a', { staleBefore: staleBefore() })).toBe(true);
      expect((await wf.getRun('r'))?.heartbeatAt?.getTime()).toBeGreaterThanOrEqual(before);
      // A heartbeat older than staleBefore: anyone may take the run over.
      expect(await wf.claimRun('r', 'b', { staleBefore: new Date(Date.now() + lease) })).toBe(true);
      let run = await wf.getRun('r');
      expect(run?.owner).toBe('b');
      expect(run?.heartbeatAt?.getTime()).toBeGreaterThanOrEqual(before);
      expect(await wf.heartbeat('r', 'a')).toBe(false);
      expect(await wf.heartbeat('r', 'b')).toBe(true);
      // force ignores a live owner.
      expect(await wf.claimRun('r', 'c', { staleBefore: staleBefore() })).toBe(false);
      expect(await wf.claimRun('r', 'c', { staleBefore: staleBefore(), force: true })).toBe(true);
      expect(await wf.heartbeat('r', 'b')).toBe(false);

      // Releasing by someone else does nothing; by the owner leaves the run free to claim.
      await wf.releaseRun('r', 'b');
      expect((await wf.getRun('r'))?.owner).toBe('c');
      await wf.releaseRun('r', 'c');
      run = await wf.getRun('r');
      expect(run).toMatchObject({ owner: null, heartbeatAt: null, status: 'running' });
      expect(await wf.heartbeat('r', 'c')).toBe(false);
      expect(await wf.claimRun('r', 'd', { staleBefore: staleBefore() })).toBe(true);

      // Finished runs cannot be claimed, not even by force.
      await wf.updateRun('r', { status: 'succeeded', finishedAt: at(1) });
      await wf.releaseRun('r', 'd');
      expect(
        await wf.claimRun('r', 'e', { staleBefore: new Date(Date.now() + lease), force: true }),
      ).toBe(false);
    });

    it('lets exactly one of two concurrent claims of an orphaned run win', async () => {
      const { wf, another } = await fresh();
      const other = another === undefined ? wf : await another();
      for (let i = 0; i < 5; i++) {
        const id = `orphan-${i}`;
        await wf.createRun(newRun(id, { owner: 'dead', createdAt: at(0) }));
        const staleBefore = new Date(Date.now() - 60_000);
        const [x, y] = await Promise.all([
          wf.claimRun(id, 'x', { staleBefore }),
          other.claimRun(id, 'y', { staleBefore }),
        ]);
        expect([x, y].filter(Boolean)).toHaveLength(1);
        expect((await wf.getRun(id))?.owner).toBe(x ? 'x' : 'y');
      }
    });

    it('updates a run and its tasks, keeping dates to the millisecond and output JSON exactly', async () => {
      const { wf } = await fresh();
      await wf.createRun(newRun('r'));
      const output = {
        rows: 100_836,
        path: '/tmp/out.parquet',
        nested: { ratio: 0.35123456789, list: [1, null, 'x'] },
        ok: true,
      };
      await wf.updateTask('r', 'train', {
        status: 'running',
        attempt: 1,
        startedAt: at(1),
        nextAttemptAt: null,
        error: null,
      });
      await wf.updateTask('r', 'train', {
        status: 'retrying',
        failures: 1,
        error: 'boom',
        nextAttemptAt: at(10_001),
      });
      await wf.updateTask('r', 'train', {
        status: 'succeeded',
        attempt: 2,
        finishedAt: at(20_002),
        output,
        error: null,
        nextAttemptAt: null,
      });
      const train = (await wf.getTasks('r')).find((t) => t.task === 'train');
      expect(train).toEqual({
        runId: 'r',
        task: 'train',
        status: 'succeeded',
        attempt: 2,
        failures: 1,
        startedAt: at(1),
        finishedAt: at(20_002),
        nextAttemptAt: null,
        error: null,
        output,
      });
      expect(JSON.stringify(train?.output)).toBe(JSON.stringify(output));
      // Other tasks are untouched.
      expect(
        (await wf.getTasks('r'))
          .filter((t) => t.task !== 'train')
          .every((t) => t.status === 'pending' && t.attempt === 0),
      ).toBe(true);

      await wf.updateRun('r', {
        status: 'failed',
        finishedAt: at(30_003),
        error: 'task train failed: boom',
      });
      expect(await wf.getRun('r')).toMatchObject({
        status: 'failed',
        finishedAt: at(30_003),
        error: 'task train failed: boom',
      });
      // A retried run goes back to running with its end cleared.
      await wf.updateRun('r', { status: 'running', finishedAt: null, error: null });
      expect(await wf.getRun('r')).toMatchObject({
        status: 'running',
        finishedAt: null,
        error: null,
      });
      await wf.updateRun('r', {});
      await wf.updateTask('r', 'train', {});
      expect((await wf.getRun('r'))?.status).toBe('running');
    });

    it('records attempts: only running ones finish, with their worker, listed by task then attempt', async () => {
      const { wf } = await fresh();
      await wf.createRun(newRun('r'));
      await wf.startAttempt({
        runId: 'r',
        task: 'train',
        attempt: 1,
        startedAt: at(10),
        worker: null,
      });
      await wf.startAttempt({
        runId: 'r',
        task: 'aggregate',
        attempt: 1,
        startedAt: at(1),
        worker: 'inline',
      });
      await wf.startAttempt({
        runId: 'r',
        task: 'train',
        attempt: 2,
        startedAt: at(20),
        worker: null,
      });
      await expect(
        wf.startAttempt({ runId: 'r', task: 'train', attempt: 2, startedAt: at(21), worker: null }),
      ).rejects.toThrow(
        /^attempt\.attempt: attempt 2 of task "train" of run "r" is already recorded \(running\)/,
      );

      // The process running attempt 1 died: a resuming owner marks it interrupted; its late result is ignored.
      expect(
        await wf.finishAttempt('r', 'train', 1, {
          status: 'interrupted',
          finishedAt: at(15),
          error: 'the process stopped',
        }),
      ).toBe(true);
      expect(
        await wf.finishAttempt('r', 'train', 1, {
          status: 'succeeded',
          finishedAt: at(16),
          worker: 'late',
        }),
      ).toBe(false);
      expect(
        await wf.finishAttempt('r', 'train', 2, {
          status: 'failed',
          finishedAt: at(25),
          error: 'oom',
          worker: 'worker-7',
        }),
      ).toBe(true);
      expect(
        await wf.finishAttempt('r', 'aggregate', 1, { status: 'succeeded', finishedAt: at(5) }),
      ).toBe(true);
      expect(
        await wf.finishAttempt('r', 'train', 3, { status: 'failed', finishedAt: at(30) }),
      ).toBe(false);

      const all = await wf.listAttempts('r');
      expect(all).toEqual([
        {
          runId: 'r',
          task: 'aggregate',
          attempt: 1,
          status: 'succeeded',
          startedAt: at(1),
          finishedAt: at(5),
          error: null,
          worker: 'inline',
        },
        {
          runId: 'r',
          task: 'train',
          attempt: 1,
          status: 'interrupted',
          startedAt: at(10),
          finishedAt: at(15),
          error: 'the process stopped',
          worker: null,
        },
        {
          runId: 'r',
          task: 'train',
          attempt: 2,
          status: 'failed',
          startedAt: at(20),
          finishedAt: at(25),
          error: 'oom',
          worker: 'worker-7',
        },
      ]);
      expect((await wf.listAttempts('r', 'train')).map((a) => a.attempt)).toEqual([1, 2]);
      expect(await wf.listAttempts('r', 'publish')).toEqual([]);
    });

    it('starts an attempt and updates its task together, writing neither when one is refused', async () => {
      const { wf } = await fresh();
      await wf.createRun(newRun('r'));
      await wf.startTaskAttempt(
        { runId: 'r', task: 'train', attempt: 1, startedAt: at(10), worker: 'inline' },
        { status: 'running', attempt: 1, startedAt: at(10), nextAttemptAt: null, error: null },
      );
      expect((await wf.getTasks('r')).find((t) => t.task === 'train')).toMatchObject({
        status: 'running',
        attempt: 1,
        startedAt: at(10),
        error: null,
      });
      expect(await wf.listAttempts('r')).toEqual([
        {
          runId: 'r',
          task: 'train',
          attempt: 1,
          status: 'running',
          startedAt: at(10),
          finishedAt: null,
          error: null,
          worker: 'inline',
        },
      ]);
      // An empty task patch still records the attempt.
      await wf.startTaskAttempt(
        { runId: 'r', task: 'aggregate', attempt: 1, startedAt: at(1), worker: null },
        {},
      );
      expect((await wf.listAttempts('r', 'aggregate')).map((a) => a.status)).toEqual(['running']);

      // Unknown run or task: NotFoundError, and no attempt row left behind.
      await expect(
        wf.startTaskAttempt(
          { runId: 'r', task: 'nope', attempt: 1, startedAt: at(0), worker: null },
          { status: 'running', attempt: 1 },
        ),
      ).rejects.toThrow('task "nope" of workflow run "r" not found');
      await expect(
        wf.startTaskAttempt(
          { runId: 'r', task: 'nope', attempt: 1, startedAt: at(0), worker: null },
          {},
        ),
      ).rejects.toThrow(NotFoundError);
      await expect(
        wf.startTaskAttempt(
          { runId: 'ghost', task: 't', attempt: 1, startedAt: at(0), worker: null },
          { status: 'running' },
        ),
      ).rejects.toThrow(NotFoundError);
      expect(await wf.listAttempts('ghost')).toEqual([]);
      // A taken attempt number: the task update made in the same transaction is rolled back.
      await expect(
        wf.startTaskAttempt(
          { runId: 'r', task: 'train', attempt: 1, startedAt: at(20), worker: null },
          { status: 'retrying', attempt: 7, error: 'changed' },
        ),
      ).rejects.toThrow(
        /^attempt\.attempt: attempt 1 of task "train" of run "r" is already recorded \(running\)/,
      );
      // Bad input is refused before any SQL, with the field named.
      await expect(
        wf.startTaskAttempt(
          { runId: 'r', task: 'publish', attempt: 0, startedAt: at(0), worker: null },
          { status: 'running' },
        ),
      ).rejects.toThrow(/^attempt\.attempt: /);
      await expect(
        wf.startTaskAttempt(
          { runId: 'r', task: 'publish', attempt: 1, startedAt: at(0), worker: null },
          { failures: -1 },
        ),
      ).rejects.toThrow(/^patch\.failures: /);
      const tasks = await wf.getTasks('r');
      expect(tasks.find((t) => t.task === 'train')).toMatchObject({
        status: 'running',
        attempt: 1,
        error: null,
      });
      expect(tasks.find((t) => t.task === 'publish')).toMatchObject({
        status: 'pending',
        attempt: 0,
      });
      expect((await wf.listAttempts('r')).map((a) => [a.task, a.attempt, a.startedAt])).toEqual([
        ['aggregate', 1, at(1)],
        ['train', 1, at(10)],
      ]);
    });

    it('finishes a running attempt and updates its task together, writing nothing when the attempt is not running', async () => {
      const { wf } = await fresh();
      await wf.createRun(newRun('r'));
      await wf.startTaskAttempt(
        { runId: 'r', task: 'train', attempt: 1, startedAt: at(10), worker: null },
        { status: 'running', attempt: 1, startedAt: at(10) },
      );
      const output = { rows: 3, nested: { ok: true } };
      expect(
        await wf.finishTaskAttempt(
          'r',
          'train',
          1,
          { status: 'succeeded', finishedAt: at(20), worker: 'worker-1' },
          { status: 'succeeded', finishedAt: at(20), output, error: null },
        ),
      ).toBe(true);
      expect((await wf.getTasks('r')).find((t) => t.task === 'train')).toMatchObject({
        status: 'succeeded',
        attempt: 1,
        startedAt: at(10),
        finishedAt: at(20),
        output,
      });
      expect(await wf.listAttempts('r', 'train')).toEqual([
        {
          runId: 'r',
          task: 'train',
          attempt: 1,
          status: 'succeeded',
          startedAt: at(10),
          finishedAt: at(20),
          error: null,
          worker: 'worker-1',
        },
      ]);

      // A resuming owner marked attempt 1 of aggregate interrupted: the late result changes neither row.
      await wf.startTaskAttempt(
        { runId: 'r', task: 'aggregate', attempt: 1, startedAt: at(30), worker: null },
        { status: 'running', attempt: 1, startedAt: at(30) },
      );
      expect(
        await wf.finishAttempt('r', 'aggregate', 1, {
          status: 'interrupted',
          finishedAt: at(35),
          error: 'the process stopped',
        }),
      ).toBe(true);
      await wf.updateTask('r', 'aggregate', { status: 'retrying', nextAttemptAt: at(35) });
      expect(
        await wf.finishTaskAttempt(
          'r',
          'aggregate',
          1,
          { status: 'failed', finishedAt: at(40), error: 'late' },
          { status: 'failed', failures: 1, error: 'late', finishedAt: at(40) },
        ),
      ).toBe(false);
      expect((await wf.getTasks('r')).find((t) => t.task === 'aggregate')).toMatchObject({
        status: 'retrying',
        failures: 0,
        error: null,
        finishedAt: null,
        nextAttemptAt: at(35),
      });
      expect(await wf.listAttempts('r', 'aggregate')).toEqual([
        {
          runId: 'r',
          task: 'aggregate',
          attempt: 1,
          status: 'interrupted',
          startedAt: at(30),
          finishedAt: at(35),
          error: 'the process stopped',
          worker: null,
        },
      ]);

      // A failed attempt with a retry due.
      await wf.startTaskAttempt(
        { runId: 'r', task: 'aggregate', attempt: 2, startedAt: at(50), worker: null },
        { status: 'running', attempt: 2, nextAttemptAt: null },
      );
      expect(
        await wf.finishTaskAttempt(
          'r',
          'aggregate',
          2,
          { status: 'failed', finishedAt: at(60), error: 'oom' },
          { status: 'retrying', failures: 1, error: 'oom', nextAttemptAt: at(10_060) },
        ),
      ).toBe(true);
      expect((await wf.getTasks('r')).find((t) => t.task === 'aggregate')).toMatchObject({
        status: 'retrying',
        attempt: 2,
        failures: 1,
        error: 'oom',
        nextAttemptAt: at(10_060),
      });
      expect((await wf.listAttempts('r', 'aggregate'))[1]).toMatchObject({
        status: 'failed',
        finishedAt: at(60),
        error: 'oom',
      });

      // Unknown attempts, tasks and runs give false; bad input is refused before any SQL.
      expect(
        await wf.finishTaskAttempt(
          'r',
          'publish',
          1,
          { status: 'failed', finishedAt: at(70) },
          { status: 'failed' },
        ),
      ).toBe(false);
      expect(
        await wf.finishTaskAttempt(
          'r',
          'nope',
          1,
          { status: 'failed', finishedAt: at(70) },
          { status: 'failed' },
        ),
      ).toBe(false);
      expect(
        await wf.finishTaskAttempt('ghost', 't', 1, { status: 'failed', finishedAt: at(70) }, {}),
      ).toBe(false);
      await wf.startTaskAttempt(
        { runId: 'r', task: 'publish', attempt: 1, startedAt: at(80), worker: null },
        { status: 'running', attempt: 1 },
      );
      await expect(
        wf.finishTaskAttempt(
          'r',
          'publish',
          1,
          { status: 'running' as 'failed', finishedAt: at(90) },
          { status: 'failed' },
        ),
      ).rejects.toThrow(/^end\.status: /);
      await expect(
        wf.finishTaskAttempt(
          'r',
          'publish',
          1,
          { status: 'failed', finishedAt: at(90) },
          { status: 'done' as 'failed' },
        ),
      ).rejects.toThrow(/^patch\.status: /);
      expect((await wf.getTasks('r')).find((t) => t.task === 'publish')).toMatchObject({
        status: 'running',
        finishedAt: null,
      });
      expect((await wf.listAttempts('r', 'publish'))[0]).toMatchObject({
        status: 'running',
        finishedAt: null,
      });
    });

    it('appends and reads logs in order, follows with afterSeq, filters by attempt and limits', async () => {
      const { wf } = await fresh();
      await wf.createRun(newRun('r'));
      await wf.appendLogs('r', 'train', 1, [
        { at: at(1), stream: 'stdout', line: 'one' },
        { at: at(2), stream: 'stderr', line: 'two ✓' },
      ]);
      await wf.appendLogs('r', 'aggregate', 1, [{ at: at(3), stream: 'log', line: 'other task' }]);
      await wf.appendLogs('r', 'train', 2, [
        { at: at(4), stream: 'log', line: '' },
        { at: at(5), stream: 'stdout', line: 'four' },
      ]);
      await wf.appendLogs('r', 'train', 2, []);

      const all = await wf.readLogs('r', 'train');
      expect(all.map((l) => l.line)).toEqual(['one', 'two ✓', '', 'four']);
      expect(all[1]).toEqual({
        seq: all[1].seq,
        runId: 'r',
        task: 'train',
        attempt: 1,
        at: at(2),
        stream: 'stderr',
        line: 'two ✓',
      });
      const seqs = all.map((l) => l.seq);
      expect(seqs.every((s) => Number.isInteger(s))).toBe(true);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(4);

      expect((await wf.readLogs('r', 'train', { attempt: 2 })).map((l) => l.line)).toEqual([
        '',
        'four',
      ]);
      expect((await wf.readLogs('r', 'train', { limit: 3 })).map((l) => l.line)).toEqual([
        'one',
        'two ✓',
        '',
      ]);
      expect((await wf.readLogs('r', 'train', { afterSeq: seqs[1] })).map((l) => l.line)).toEqual([
        '',
        'four',
      ]);
      expect(await wf.readLogs('r', 'train', { afterSeq: seqs[3] })).toEqual([]);
      expect((await wf.readLogs('r', 'aggregate')).map((l) => l.line)).toEqual(['other task']);

      // Following: new lines appear after the last seq seen.
      await wf.appendLogs('r', 'train', 2, [{ at: at(6), stream: 'stdout', line: 'five' }]);
      const next = await wf.readLogs('r', 'train', { afterSeq: seqs[3] });
      expect(next.map((l) => l.line)).toEqual(['five']);
      expect(next[0].seq).toBeGreaterThan(seqs[3]);

      // A large batch keeps its order and is written whole.
      const many = Array.from({ length: 1234 }, (_, i) => ({
        at: at(100 + i),
        stream: 'stdout' as const,
        line: `line ${i}`,
      }));
      await wf.appendLogs('r', 'bulk', 1, many);
      const read = await wf.readLogs('r', 'bulk', { limit: 5000 });
      expect(read.map((l) => l.line)).toEqual(many.map((l) => l.line));
      expect(await wf.readLogs('r', 'bulk')).toHaveLength(1000);
    });

    it('lists runs newest first with filters and a limit, and finds the latest per workflow and scheduled', async () => {
      const { wf } = await fresh();
      const spec: Array<[string, string, NewRun['trigger'], number, string]> = [
        ['a1', 'alpha', 'schedule', 0, '2026-11-01T00:00:00.000Z'],
        ['a3', 'alpha', 'manual', 3000, '2026-11-03T00:00:00.000Z'],
        ['a2', 'alpha', 'schedule', 2000, '2026-11-02T00:00:00.000Z'],
        ['b1', 'beta', 'backfill', 1000, '2026-11-01T00:00:00.000Z'],
        // A tie in createdAt with b1, broken by id (descending).
        ['b2', 'beta', 'manual', 1000, '2026-11-02T00:00:00.000Z'],
      ];
      for (const [id, workflow, trigger, t, logicalDate] of spec) {
        await wf.createRun(newRun(id, { workflow, trigger, createdAt: at(t), logicalDate }));
      }
      await wf.updateRun('a1', { status: 'succeeded', finishedAt: at(500) });
      await wf.updateRun('b1', { status: 'failed', finishedAt: at(1500), error: 'x' });

      const ids = async (o?: Parameters<WorkflowStore['listRuns']>[0]) =>
        (await wf.listRuns(o)).map((r) => r.id);
      expect(await ids()).toEqual(['a3', 'a2', 'b2', 'b1', 'a1']);
      expect(await ids({ limit: 2 })).toEqual(['a3', 'a2']);
      expect(await ids({ workflow: 'alpha' })).toEqual(['a3', 'a2', 'a1']);
      expect(await ids({ status: 'running' })).toEqual(['a3', 'a2', 'b2']);
      expect(await ids({ status: 'failed' })).toEqual(['b1']);
      expect(await ids({ logicalDate: '2026-11-01T00:00:00.000Z' })).toEqual(['b1', 'a1']);
      expect(
        await ids({
          workflow: 'alpha',
          logicalDate: '2026-11-01T00:00:00.000Z',
          status: 'succeeded',
          limit: 1,
        }),
      ).toEqual(['a1']);
      expect(await ids({ workflow: 'none' })).toEqual([]);
      expect((await wf.listRuns({ limit: 1 }))[0]).toEqual(await wf.getRun('a3'));

      const latest = await wf.latestRunPerWorkflow();
      expect(latest.map((r) => r.id)).toEqual(['a3', 'b2']);
      expect(latest[0]).toEqual(await wf.getRun('a3'));

      expect((await wf.latestScheduledRun('alpha'))?.id).toBe('a2');
      expect(await wf.latestScheduledRun('beta')).toBeNull();

      for (let i = 0; i < 55; i++)
        await wf.createRun(
          newRun(`bulk-${String(i).padStart(2, '0')}`, {
            workflow: 'gamma',
            createdAt: at(10_000 + i),
          }),
        );
      const page = await wf.listRuns();
      expect(page).toHaveLength(50);
      expect(page[0].id).toBe('bulk-54');
    });

    it('refuses bad input with the field named, writing nothing', async () => {
      const { wf } = await fresh();
      const bad: Array<[Partial<NewRun>, RegExp]> = [
        [{ id: '' }, /^run\.id: /],
        [{ workflow: '' }, /^run\.workflow: /],
        [
          { trigger: 'cron' as NewRun['trigger'] },
          /^run\.trigger: must be one of "manual", "schedule", "backfill"/,
        ],
        [{ createdAt: new Date(Number.NaN) }, /^run\.createdAt: /],
        [{ owner: '' }, /^run\.owner: /],
        [{ scheduleKey: '' }, /^run\.scheduleKey: /],
        [{ params: { n: Number.NaN } }, /^run\.params\.n: /],
        [{ params: { list: [1] as unknown as string } }, /^run\.params\.list: /],
        [
          { definition: { ...sampleDefinition(), tasks: [task('a'), task('a')] } },
          /^run\.definition\.tasks\[1\]\.name: task "a" appears twice/,
        ],
        [
          { definition: { ...sampleDefinition(), expectedDurationMs: Number.POSITIVE_INFINITY } },
          /^run\.definition\.expectedDurationMs: /,
        ],
      ];
      for (const [override, message] of bad) {
        await expect(wf.createRun(newRun('bad', override))).rejects.toThrow(message);
      }
      await expect(wf.createRun(newRun('bad', { id: '' }))).rejects.toThrow(InvalidArgumentError);
      expect(await wf.getRun('bad')).toBeNull();

      await wf.createRun(newRun('r'));
      await expect(wf.updateRun('r', { status: 'done' as 'failed' })).rejects.toThrow(
        /^patch\.status: /,
      );
      await expect(wf.updateRun('r', { finishedAt: new Date('nope') })).rejects.toThrow(
        /^patch\.finishedAt: /,
      );
      await expect(wf.updateTask('r', 'train', { status: 'skipped' as 'failed' })).rejects.toThrow(
        /^patch\.status: /,
      );
      await expect(wf.updateTask('r', 'train', { attempt: -1 })).rejects.toThrow(
        /^patch\.attempt: /,
      );
      await expect(wf.updateTask('r', 'train', { failures: 1.5 })).rejects.toThrow(
        /^patch\.failures: /,
      );
      await expect(wf.updateTask('r', 'train', { output: { when: new Date(0) } })).rejects.toThrow(
        /^patch\.output\.when: /,
      );
      await expect(
        wf.startAttempt({ runId: 'r', task: 'train', attempt: 0, startedAt: at(0), worker: null }),
      ).rejects.toThrow(/^attempt\.attempt: /);
      await wf.startAttempt({
        runId: 'r',
        task: 'train',
        attempt: 1,
        startedAt: at(0),
        worker: null,
      });
      await expect(
        wf.finishAttempt('r', 'train', 1, { status: 'running' as 'failed', finishedAt: at(1) }),
      ).rejects.toThrow(/^end\.status: /);
      await expect(
        wf.appendLogs('r', 'train', 1, [{ at: at(0), stream: 'stdin' as 'log', line: 'x' }]),
      ).rejects.toThrow(/^lines\[0\]\.stream: /);
      await expect(
        wf.appendLogs('r', 'train', 1, [
          { at: at(0), stream: 'log', line: 'ok' },
          { at: at(0), stream: 'log', line: 7 as unknown as string },
        ]),
      ).rejects.toThrow(/^lines\[1\]\.line: /);
      await expect(wf.readLogs('r', 'train', { limit: 0 })).rejects.toThrow(/^limit: /);
      await expect(wf.readLogs('r', 'train', { afterSeq: -1 })).rejects.toThrow(/^afterSeq: /);
      await expect(wf.listRuns({ status: 'paused' as 'running' })).rejects.toThrow(/^status: /);
      await expect(wf.claimRun('r', '', { staleBefore: at(0) })).rejects.toThrow(/^owner: /);
      // Nothing was half-written by the refused calls.
      expect((await wf.getTasks('r')).find((t) => t.task === 'train')).toMatchObject({
        status: 'pending',
        attempt: 0,
        failures: 0,
        output: {},
      });
      expect((await wf.listAttempts('r'))[0]).toMatchObject({
        status: 'running',
        finishedAt: null,
      });
      expect(await wf.readLogs('r', 'train')).toEqual([]);
    });

    it('handles concurrent writers without losing records', async () => {
      const { wf, another } = await fresh();
      const other = another === undefined ? wf : await another();
      const names = Array.from({ length: 10 }, (_, i) => `t${String(i).padStart(2, '0')}`);
      await wf.createRun(newRun('r', { definition: sampleDefinition('recommend', names) }));
      await Promise.all(
        names.map(async (name, i) => {
          const s = i % 2 === 0 ? wf : other;
          // Half the tasks go through the one-transaction forms, interleaved with the others.
          const combined = i % 4 >= 2;
          const attempt = { runId: 'r', task: name, attempt: 1, startedAt: at(i), worker: `w${i}` };
          const running = { status: 'running' as const, attempt: 1, startedAt: at(i) };
          if (combined) await s.startTaskAttempt(attempt, running);
          else {
            await s.updateTask('r', name, running);
            await s.startAttempt(attempt);
          }
          await s.appendLogs('r', name, 1, [
            { at: at(i), stream: 'stdout', line: `hello from ${name}` },
          ]);
          const end = { status: 'succeeded' as const, finishedAt: at(100 + i) };
          const done = { status: 'succeeded' as const, finishedAt: at(100 + i), output: { i } };
          if (combined) expect(await s.finishTaskAttempt('r', name, 1, end, done)).toBe(true);
          else {
            await s.finishAttempt('r', name, 1, end);
            await s.updateTask('r', name, done);
          }
        }),
      );
      const tasks = await wf.getTasks('r');
      expect(tasks.map((t) => [t.task, t.status, t.output.i])).toEqual(
        names.map((n, i) => [n, 'succeeded', i]),
      );
      expect((await wf.listAttempts('r')).map((a) => a.worker)).toEqual(
        names.map((_, i) => `w${i}`),
      );
      expect((await wf.listAttempts('r')).every((a) => a.status === 'succeeded')).toBe(true);
      for (const name of names)
        expect((await wf.readLogs('r', name)).map((l) => l.line)).toEqual([`hello from ${name}`]);
    });
  });
}
