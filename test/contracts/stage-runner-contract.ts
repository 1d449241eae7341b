import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StageFailedError, type StageRunner } from '../../src/stages/runner.js';
import type { StageRef } from '../../src/stages/stage.js';

const FIXTURE = resolve(import.meta.dirname, '../fixtures/stages/stages.ts');
const ref = (name: string): StageRef => ({ module: FIXTURE, export: name });

const TEXT = [
  'The quick brown fox jumps over the lazy dog',
  'the dog barks; the fox runs',
  'A stage reads partitions, maps them and streams records between workers',
  'Records flow from preprocess to main to postprocess',
];

/** The counts a correct word-count stage must produce, computed directly. */
function expectedCounts(lines: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines)
    for (const w of line.toLowerCase().split(/\W+/))
      if (w !== '') counts.set(w, (counts.get(w) ?? 0) + 1);
  return counts;
}

/**
 * The contract every {@link StageRunner} meets: the same outputs for the same stage and input
 * whatever the number of preprocess and main workers, every record delivered exactly once,
 * collectives that agree across ranks, and failures that name where they happened, never hang,
 * and leave no output behind.
 */
export function describeStageRunner(name: string, create: () => StageRunner): void {
  describe(`StageRunner contract: ${name}`, () => {
    let dir: string;
    let runner: StageRunner;
    const log = (): void => {};
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), `kiban-stage-${name}-`));
      runner = create();
      // 200 lines in 4 partition files.
      const parts = join(dir, 'text');
      await mkdir(parts);
      for (let p = 0; p < 4; p++) {
        const rows = Array.from({ length: 50 }, (_, i) =>
          JSON.stringify({ id: p * 50 + i, text: TEXT[(p * 50 + i) % TEXT.length] }),
        );
        await writeFile(join(parts, `part-${p}.jsonl`), `${rows.join('\n')}\n`);
      }
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    const allLines = (): string[] => Array.from({ length: 200 }, (_, i) => TEXT[i % TEXT.length]);

    it.each([
      [1, 1],
      [2, 1],
      [1, 3],
      [3, 2],
    ])(
      'word count over 4 partition files with %i preprocess and %i main workers equals the direct count',
      async (pre, mains) => {
        const result = await runner.run(ref('wordCount'), {
          source: { kind: 'jsonl', path: join(dir, 'text') },
          numPreprocessors: pre,
          count: mains,
          batchSize: 16,
          log,
        });
        expect(result.records.read).toBe(200);
        expect(result.partitions).toBe(4);
        // Each main worker counts its share; the sum over workers is the whole count.
        const merged = new Map<string, number>();
        for (const { word, count } of result.outputs as { word: string; count: number }[])
          merged.set(word, (merged.get(word) ?? 0) + count);
        expect(merged).toEqual(expectedCounts(allLines()));
      },
    );

    it.each([
      ['batchWordCount', 2, 1],
      ['keyedBatchWordCount', 2, 3],
    ])(
      'preprocessBatches (%s, %i preprocess, %i main workers): the word count equals the direct count',
      async (stage, pre, mains) => {
        const result = await runner.run(ref(stage), {
          source: { kind: 'jsonl', path: join(dir, 'text') },
          numPreprocessors: pre,
          count: mains,
          batchSize: 7,
          log,
        });
        expect(result.records.read).toBe(200);
        const words = [...expectedCounts(allLines()).values()].reduce((a, b) => a + b, 0);
        expect(result.records.preprocessed).toBe(words);
        const merged = new Map<string, number>();
        for (const { word, count } of result.outputs as { word: string; count: number }[])
          merged.set(word, (merged.get(word) ?? 0) + count);
        expect(merged).toEqual(expectedCounts(allLines()));
        if (stage === 'keyedBatchWordCount')
          expect(merged.size).toBe((result.outputs as unknown[]).length); // each word on one rank
      },
    );

    it('preprocessBatches yielding something other than an array fails the stage, saying so', async () => {
      const records = Array.from({ length: 20 }, (_, id) => ({ id }));
      await expect(
        runner.run(ref('batchNotArray'), { source: { kind: 'records', records }, log }),
      ).rejects.toThrow(/preprocessBatches must yield arrays of records, got object/);
    });

    it('delivers every record to exactly one main rank, with rank, size and params in the context', async () => {
      const records = Array.from({ length: 1000 }, (_, id) => ({ id }));
      const result = await runner.run(ref('whoGotWhat'), {
        source: { kind: 'records', records },
        numPreprocessors: 2,
        count: 3,
        batchSize: 10,
        params: { tag: 'x' },
        log,
      });
      const outs = (
        result.outputs as { rank: number; size: number; tag: string; ids: number[] }[]
      ).sort((a, b) => a.rank - b.rank);
      expect(outs.map((o) => [o.rank, o.size, o.tag])).toEqual([
        [0, 3, 'x'],
        [1, 3, 'x'],
        [2, 3, 'x'],
      ]);
      const all = outs.flatMap((o) => o.ids).sort((a, b) => a - b);
      expect(all).toEqual(records.map((r) => r.id));
      // Batches are dealt in turn, so no rank is starved.
      for (const o of outs) expect(o.ids.length).toBeGreaterThan(200);
    });

    it.each([
      [1, 2],
      [2, 3],
    ])(
      'partitionBy: with %i preprocess and %i main workers each word is counted whole on one rank, totals equal the direct count',
      async (pre, mains) => {
        const result = await runner.run(ref('keyedWordCount'), {
          source: { kind: 'jsonl', path: join(dir, 'text') },
          numPreprocessors: pre,
          count: mains,
          batchSize: 4,
          log,
        });
        const outputs = result.outputs as { word: string; count: number }[];
        // No merging: a word split across ranks would appear twice.
        expect(outputs.map((o) => o.word).sort()).toEqual(
          [...expectedCounts(allLines()).keys()].sort(),
        );
        expect(new Map(outputs.map((o) => [o.word, o.count]))).toEqual(expectedCounts(allLines()));
      },
    );

    it('partitionBy: records with the same key (string or number) reach the same main rank, each exactly once', async () => {
      // 40 keys, half strings and half numbers, each on 25 records spread over the input.
      const keyOf = (id: number): string | number => (id % 40 < 20 ? `user-${id % 40}` : id % 40);
      const records = Array.from({ length: 1000 }, (_, id) => ({ id, key: keyOf(id) }));
      const result = await runner.run(ref('keysByRank'), {
        source: { kind: 'records', records },
        numPreprocessors: 2,
        count: 3,
        batchSize: 5,
        log,
      });
      const outs = result.outputs as { rank: number; keys: (string | number)[]; ids: number[] }[];
      expect(outs.map((o) => o.rank).sort()).toEqual([0, 1, 2]);
      expect(outs.flatMap((o) => o.ids).sort((a, b) => a - b)).toEqual(records.map((r) => r.id));
      const rankOfKey = new Map<string | number, Set<number>>();
      for (const o of outs) {
        o.ids.forEach((id, i) => expect(o.keys[i]).toBe(keyOf(id)));
        for (const key of o.keys) rankOfKey.set(key, (rankOfKey.get(key) ?? new Set()).add(o.rank));
      }
      expect(rankOfKey.size).toBe(40);
      for (const [key, ranks] of rankOfKey) expect([key, ranks.size]).toEqual([key, 1]);
      // Hashing spreads 40 keys over every rank.
      expect(new Set([...rankOfKey.values()].map((r) => [...r][0])).size).toBe(3);
    });

    it('partitionBy: a key that is neither a string nor a finite number fails the stage, naming partitionBy', async () => {
      const records = Array.from({ length: 20 }, (_, id) => ({ id }));
      const error = await runner
        .run(ref('badKey'), { source: { kind: 'records', records }, count: 2, log })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(StageFailedError);
      expect((error as Error).message).toMatch(
        /failed in preprocess rank 0: .*partitionBy.*string or a finite number/,
      );
    });

    it('allreduce, broadcast and barrier agree on every rank', async () => {
      const records = Array.from({ length: 100 }, (_, id) => ({ id }));
      const result = await runner.run(ref('collectives'), {
        source: { kind: 'records', records },
        count: 3,
        batchSize: 7,
        log,
      });
      const outs = result.outputs as {
        rank: number;
        sum: number[];
        mean: number[];
        root: { from: number };
      }[];
      expect(outs).toHaveLength(3);
      for (const o of outs) {
        expect(o.sum).toEqual([4950, 6]);
        expect(o.mean).toEqual([2]);
        expect(o.root).toEqual({ from: 2, note: 'hello' });
      }
    });

    it('writes a JSON-lines sink only when the stage succeeds', async () => {
      const out = join(dir, 'counts');
      const result = await runner.run(ref('wordCount'), {
        source: { kind: 'jsonl', path: join(dir, 'text') },
        sink: { kind: 'jsonl', path: out },
        count: 2,
        log,
      });
      expect(result.sink.records).toBe(result.records.written);
      const files = (await readdir(out)).filter((f) => f.endsWith('.jsonl'));
      const lines = (await Promise.all(files.map((f) => readFile(join(out, f), 'utf8'))))
        .join('')
        .trim()
        .split('\n');
      expect(lines.length).toBe(result.records.written);
    });

    it('a failure in preprocess fails the stage, names where, and leaves no output', async () => {
      const out = join(dir, 'never');
      const records = Array.from({ length: 500 }, (_, id) => ({ id }));
      const error = await runner
        .run(ref('failsInPreprocess'), {
          source: { kind: 'records', records },
          sink: { kind: 'jsonl', path: out },
          numPreprocessors: 2,
          count: 2,
          batchSize: 8,
          params: { failAt: 321 },
          log,
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(StageFailedError);
      expect((error as Error).message).toMatch(
        /stage fails-in-preprocess failed in preprocess rank \d: .*bad record 321/,
      );
      expect(existsSync(out)).toBe(false);
    });

    it('a rank failing while the others wait in a collective fails the stage instead of hanging', async () => {
      const records = Array.from({ length: 50 }, (_, id) => ({ id }));
      const t0 = Date.now();
      const error = await runner
        .run(ref('failsInMain'), {
          source: { kind: 'records', records },
          count: 3,
          params: { failRank: 1 },
          log,
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect((error as Error).message).toMatch(/failed in main rank 1: .*rank 1 gave up/);
      expect(Date.now() - t0).toBeLessThan(20_000);
    });

    it('ends when main stops reading early, with what main returned', async () => {
      const records = Array.from({ length: 5000 }, (_, id) => ({ id }));
      const result = await runner.run(ref('firstFew'), {
        source: { kind: 'records', records },
        params: { take: 3 },
        numPreprocessors: 2,
        count: 2,
        batchSize: 8,
        log,
      });
      const outs = result.outputs as { rank: number; ids: number[] }[];
      expect(outs.map((o) => o.rank).sort()).toEqual([0, 1]);
      for (const o of outs) expect(o.ids).toHaveLength(3);
    }, 30_000);

    it('refuses a module without that stage export, naming it', async () => {
      await expect(
        runner.run(
          { module: FIXTURE, export: 'nope' },
          { source: { kind: 'records', records: [] }, log },
        ),
      ).rejects.toThrow(/no stage export "nope"/);
    });
  });
}
