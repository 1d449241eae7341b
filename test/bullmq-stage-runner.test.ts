/**
 * The BullMQ stage runner with real worker processes: `kiban stage bullmq-worker`, each in a
 * working directory of its own holding its own copy of the stage modules (so the stage is
 * resolved from the worker's project, not from the submitter's path), sharing only Redis (a
 * unique queue prefix per test file) and a `file:` artifact store.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullmqStageRunner, shipStageRef } from '../src/stages/runners/bullmq-runner.js';
import { createStageRunner } from '../src/stages/runners/index.js';
import { FileArtifactStore } from '../src/storage/artifacts/file-artifact-store.js';
import { describeStageRunner } from './contracts/stage-runner-contract.js';
import {
  projectCopy,
  startStageWorker,
  type WorkerProcess,
} from './fixtures/stages-bullmq/workers.js';

const REPO = resolve(import.meta.dirname, '..');
const REDIS = 'redis://127.0.0.1:6379';
/** What a worker's project needs of this repository to load the test stages. */
const PROJECT_FILES = [
  'src/stages/stage.ts',
  'test/fixtures/stages/stages.ts',
  'test/fixtures/stages-bullmq/stages.ts',
];
const BLOCKING = join(REPO, 'test/fixtures/stages-bullmq/stages.ts');

async function stopWorkers(workers: WorkerProcess[]): Promise<void> {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
}

/** Partition files still in the shared artifact store. */
async function leftFiles(base: string): Promise<string[]> {
  const store = new FileArtifactStore(join(base, 'artifacts'));
  const keys = (await store.list('')).map((info) => info.key);
  await store.close();
  return keys;
}

async function deletePrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
}

/** Two workers in separate directories, sharing Redis (a fresh prefix) and an artifact store. */
function twoWorkers(concurrency: number): {
  prefix: string;
  shared: () => string;
  workers: () => WorkerProcess[];
  runner: () => BullmqStageRunner;
} {
  const prefix = `kiban-test-${randomBytes(4).toString('hex')}`;
  let base = '';
  let workers: WorkerProcess[] = [];
  let store: FileArtifactStore;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'kiban-bullmq-stage-'));
    await mkdir(join(base, 'artifacts'));
    store = new FileArtifactStore(join(base, 'artifacts'));
    const dirs = await Promise.all(
      ['worker-a', 'worker-b'].map((name) => projectCopy(join(base, name), PROJECT_FILES)),
    );
    workers = await Promise.all(
      dirs.map((dir) =>
        startStageWorker(dir, {
          redis: REDIS,
          artifacts: join(base, 'artifacts'),
          queuePrefix: prefix,
          concurrency,
          extraArgs: ['--lock-ms', '2000', '--stalled-ms', '500'],
        }),
      ),
    );
  }, 60_000);
  afterAll(async () => {
    await stopWorkers(workers);
    await store?.close();
    await deletePrefix(prefix);
    await rm(base, { recursive: true, force: true });
  }, 60_000);
  return {
    prefix,
    shared: () => base,
    workers: () => workers,
    runner: () => new BullmqStageRunner({ redisUrl: REDIS, artifacts: store, root: REPO, prefix }),
  };
}

describe('bullmq stage runner on two worker processes', () => {
  // Concurrency 2 each: the contract's collectives need all 3 main ranks running at once.
  const pair = twoWorkers(2);
  describeStageRunner('bullmq', () => pair.runner());

  it('runs a stage from the workers\u2019 own copies of its module and leaves no partition files behind', async () => {
    const result = await pair.runner().run(
      { module: BLOCKING, export: 'blocksUntilReleased' },
      {
        source: {
          kind: 'records',
          records: Array.from({ length: 40 }, (_, id) => ({ id: id + 1 })),
        },
        params: { markers: pair.shared() },
        numPreprocessors: 4,
        count: 2,
        batchSize: 4,
        log: () => {},
      },
    );
    expect(result.runner).toBe('bullmq');
    expect((result.outputs as { id: number }[]).map((o) => o.id).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 40 }, (_, id) => id + 1),
    );
    expect(await leftFiles(pair.shared())).toEqual([]);
  });

  it('a partition that blocks its thread for longer than the lock lasts keeps its lock: it runs once', async () => {
    const markers = join(pair.shared(), 'sync');
    await mkdir(markers);
    const result = await pair.runner().run(
      { module: BLOCKING, export: 'blocksSynchronously' },
      {
        source: { kind: 'records', records: Array.from({ length: 20 }, (_, id) => ({ id })) },
        // The workers' locks last 2 s and are looked for every 0.5 s.
        params: { markers, blockMs: 3500 },
        numPreprocessors: 2,
        log: () => {},
      },
    );
    expect(result.outputs).toEqual([20]);
    expect((await readdir(markers)).filter((f) => f.startsWith('ran-'))).toHaveLength(1);
  });

  it('maxConcurrency caps the partitions of a stage running at once over both workers', async () => {
    const markers = join(pair.shared(), 'alone');
    await mkdir(markers);
    const capped = new BullmqStageRunner({
      redisUrl: REDIS,
      artifacts: new FileArtifactStore(join(pair.shared(), 'artifacts')),
      root: REPO,
      prefix: pair.prefix,
      maxConcurrency: 1,
    });
    const result = await capped.run(
      { module: BLOCKING, export: 'alone' },
      {
        source: { kind: 'records', records: Array.from({ length: 60 }, (_, id) => ({ id })) },
        params: { markers, holdMs: 150 },
        numPreprocessors: 6,
        count: 2,
        log: () => {},
      },
    );
    expect(result.partitions).toBe(6);
    expect((result.outputs as number[]).reduce((s, n) => s + n, 0)).toBe(60);
  });
});

describe('bullmq stage runner: shipping and settings', () => {
  it('ships a stage module as a path relative to the project root, and refuses one outside it', () => {
    expect(shipStageRef({ module: BLOCKING, export: 'x' }, REPO)).toEqual({
      module: 'test/fixtures/stages-bullmq/stages.ts',
      export: 'x',
    });
    expect(() => shipStageRef({ module: '/elsewhere/stages.ts' }, REPO)).toThrow(
      /outside the project root/,
    );
  });

  it('fails at once, saying so, when no worker listens on the queue', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-bullmq-none-'));
    const prefix = `kiban-test-${randomBytes(4).toString('hex')}`;
    const runner = new BullmqStageRunner({
      redisUrl: REDIS,
      artifacts: new FileArtifactStore(dir),
      root: REPO,
      prefix,
    });
    await expect(
      runner.run(
        { module: BLOCKING, export: 'alone' },
        { source: { kind: 'records', records: [{ id: 1 }] }, log: () => {} },
      ),
    ).rejects.toThrow(/no kiban stage bullmq-worker is listening on queue kiban-stages/);
    await rm(dir, { recursive: true, force: true });
    await deletePrefix(prefix);
  });

  it('createStageRunner("bullmq") without Redis settings names redis', () => {
    expect(() => createStageRunner('bullmq')).toThrow(/redis/i);
  });
});

describe('bullmq stage runner: a worker SIGKILLed mid-stage', () => {
  const pair = twoWorkers(1);
  const records = Array.from({ length: 400 }, (_, id) => ({ id }));
  const run = (markers: string) =>
    pair.runner().run(
      { module: BLOCKING, export: 'blocksUntilReleased' },
      {
        source: { kind: 'records', records },
        params: { markers },
        numPreprocessors: 4,
        count: 2,
        batchSize: 16,
        log: () => {},
      },
    );

  it('gives the same output as an undisturbed run: the partition is re-run on the other worker, nothing duplicated', async () => {
    const calm = join(pair.shared(), 'calm');
    await mkdir(calm);
    await writeFile(join(calm, 'release'), '');
    const undisturbed = await run(calm);
    expect(
      (undisturbed.outputs as { id: number; square: number }[])
        .map((o) => [o.id, o.square])
        .sort((a, b) => a[0] - b[0]),
    ).toEqual(records.map(({ id }) => [id, id * id]));

    const stormy = join(pair.shared(), 'stormy');
    await mkdir(stormy);
    const running = run(stormy);
    running.catch(() => {});
    // Wait for the partition holding record 0 to start: its worker names itself.
    let started: string[] = [];
    for (let i = 0; started.length === 0; i++) {
      if (i > 1200) throw new Error('the blocking partition never started');
      await sleep(50);
      started = (await readdir(stormy)).filter((f) => f.startsWith('started-'));
    }
    const victimPid = Number(started[0].slice('started-'.length));
    const victim = pair.workers().find((w) => w.pid === victimPid);
    expect(victim).toBeDefined();
    victim!.child.kill('SIGKILL');
    expect(await victim!.exited).toBe('SIGKILL');
    await writeFile(join(stormy, 'release'), '');
    const disturbed = await running;

    expect(disturbed.outputs).toEqual(undisturbed.outputs);
    expect(disturbed.records).toEqual(undisturbed.records);
    // The partition ran again, on the survivor.
    const survivor = pair.workers().find((w) => w.pid !== victimPid)!;
    expect((await readdir(stormy)).filter((f) => f.startsWith('started-')).sort()).toEqual(
      [`started-${victimPid}`, `started-${survivor.pid}`].sort(),
    );
    expect(await leftFiles(pair.shared())).toEqual([]);
  }, 60_000);
});
