import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeStageRunner } from '../../../test/contracts/stage-runner-contract.js';
import { createLogger } from '../../core/log.js';
import { StageFailedError } from '../runner.js';
import { InlineStageRunner } from './inline-runner.js';
import { ThreadStageRunner } from './thread-runner.js';
import { transferablesOf } from './thread-worker.js';

describeStageRunner('inline', () => new InlineStageRunner());
describeStageRunner('threads', () => new ThreadStageRunner());

/**
 * Stages that only make sense for threads (they spin, kill their thread, or time one side
 * against the other), written to a temporary module because worker threads import stages by path.
 */
const THREAD_STAGES = `
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const spin = { name: 'spin', async *preprocess() { for (;;) {} }, async *main(records) { for await (const r of records) yield r; } };
export const exits = { name: 'exits', async main(records) { for await (const _ of records) {} process.exit(7); } };
export const vectors = {
  name: 'vectors',
  async *preprocess(records) { for await (const r of records) yield { id: r.id, v: new Float32Array(8192).fill(r.id) }; },
  async main(records) { let sum = 0; let n = 0; for await (const r of records) { sum += r.v[8191]; n++; } return [{ sum, n }]; },
};
export const slowMain = {
  name: 'slow-main',
  async *preprocess(records, ctx) { let n = 0; for await (const r of records) { if (++n % 10 === 0) ctx.log('produced ' + n + ' at ' + Date.now()); yield r; } },
  async *main(records, ctx) {
    let n = 0;
    for await (const _ of records) {
      // Stall after the first record, once the preprocess thread is surely running.
      if (++n === 1) { await sleep(500); ctx.log('draining at ' + Date.now()); }
    }
    yield { n };
  },
};
`;

describe('ThreadStageRunner', () => {
  let dir: string;
  let module: string;
  const runner = new ThreadStageRunner();
  const log = (): void => {};
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-threads-'));
    module = join(dir, 'thread-stages.mjs');
    await writeFile(module, THREAD_STAGES);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('cancelling stops threads stuck in a loop that never yields, promptly', async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('enough')), 1500);
    const error = await runner
      .run(
        { module, export: 'spin' },
        {
          source: { kind: 'records', records: [{ id: 1 }] },
          numPreprocessors: 2,
          count: 2,
          signal: abort.signal,
          log,
        },
      )
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(StageFailedError);
    expect((error as Error).message).toMatch(/failed in the caller: enough/);
    // Without the cancel the spinning thread never ends: the test's own timeout is the bound.
  });

  it('a thread that exits fails the stage, naming its rank and exit code', async () => {
    const error = await runner
      .run({ module, export: 'exits' }, { source: { kind: 'records', records: [{ id: 1 }] }, log })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect((error as Error).message).toMatch(/failed in main rank 0: .*exited with code 7/);
  });

  it('moves large typed arrays between threads intact', async () => {
    const records = Array.from({ length: 200 }, (_, id) => ({ id }));
    const result = await runner.run(
      { module, export: 'vectors' },
      { source: { kind: 'records', records }, numPreprocessors: 2, count: 2, batchSize: 8, log },
    );
    const outs = result.outputs as { sum: number; n: number }[];
    expect(outs.reduce((s, o) => s + o.n, 0)).toBe(200);
    expect(outs.reduce((s, o) => s + o.sum, 0)).toBe((199 * 200) / 2);
  });

  it("sends the stage's lines to the logger, with the stage as a field, when no log function is given", async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      destination: { write: (line: string) => lines.push(line) },
    });
    await new InlineStageRunner().run(
      { module, export: 'slowMain' },
      {
        source: { kind: 'records', records: Array.from({ length: 10 }, (_, id) => ({ id })) },
        logger,
      },
    );
    const entries = lines.map(
      (line) => JSON.parse(line) as { level: number; stage: string; msg: string },
    );
    expect(entries.map((e) => [e.level, e.stage])).toEqual([
      [30, 'slow-main'],
      [30, 'slow-main'],
    ]);
    expect(entries.map((e) => e.msg).sort()).toEqual([
      expect.stringMatching(/^main\[0\] draining at \d+$/),
      expect.stringMatching(/^preprocess\[0\] produced 10 at \d+$/),
    ]);
  });

  it('a fast preprocess waits for a slow main instead of queueing everything (credit)', async () => {
    const lines: string[] = [];
    const records = Array.from({ length: 20_000 }, (_, id) => ({ id }));
    const result = await runner.run(
      { module, export: 'slowMain' },
      { source: { kind: 'records', records }, batchSize: 10, log: (line) => lines.push(line) },
    );
    expect(result.outputs).toEqual([{ n: 20_000 }]);
    // By the clock both threads share, not by arrival order: log lines of different threads come
    // through different ports, and a loaded machine may deliver them out of order. Strictly
    // before: once main drains, the preprocess thread produces several batches within the same
    // millisecond as the "draining" line.
    const drainingAt = Number(
      /draining at (\d+)/.exec(lines.find((l) => l.includes('draining')) ?? '')?.[1],
    );
    const before = lines
      .map((l) => /produced (\d+) at (\d+)/.exec(l))
      .filter((m) => m !== null && Number(m[2]) < drainingAt);
    const produced = Math.max(...before.map((m) => Number(m![1])));
    // 8 batches of credit, 1 given back for the batch main took, 1 full and waiting for credit.
    expect(produced).toBeLessThanOrEqual(10 * 10);
    expect(produced).toBeGreaterThan(0);
  });

  it('transfers only large typed arrays that own their whole buffer', () => {
    const big = new Float64Array(4096);
    const view = new Float64Array(new ArrayBuffer(8 * 8192), 0, 4096);
    const small = new Float32Array(16);
    const shared = new Float64Array(new SharedArrayBuffer(8 * 4096));
    expect(transferablesOf([big, { v: big }, [view], { small, shared }, 'x', null])).toEqual([
      big.buffer,
    ]);
  });
});
