/**
 * The public SDK surface (`src/index.ts`, the package's `.` export): a notebook-style flow through
 * it, and the built package imported by name the way a service would, without loading the
 * drivers of backends it does not use.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ensureBuiltCli } from './fixtures/built-cli.js';
import * as kiban from '../src/index.js';

describe('kiban SDK surface', { timeout: 240_000 }, () => {
  it('trains, evaluates and recommends through the public exports only', async () => {
    const train = await kiban.readInteractionLog('datasets/ml-latest-small/splits/train.csv');
    const test = await kiban.readInteractionLog('datasets/ml-latest-small/splits/test.csv');
    const model = kiban.builtinModels().create('popularity');
    await model.fit(kiban.Interactions.fromLog(train));
    const result = kiban.evaluateRecommender(model, test, { k: 10 });
    expect(result.metrics['precision@10']).toBeGreaterThan(0);
    expect(() => kiban.builtinModels().create('nope')).toThrow(kiban.UnknownModelError);
    // The server's assignment, computed locally: deterministic per unit.
    const experiment = {
      variants: [
        { name: 'control', weight: 1 },
        { name: 'treatment', weight: 1 },
      ],
      salt: 'hero',
    };
    expect(kiban.variantOf(experiment, 'user-42')).toBe(kiban.variantOf(experiment, 'user-42'));
    expect(
      kiban.defineStage({
        name: 's',
        async *main(records: AsyncIterable<number>) {
          for await (const r of records) yield r;
        },
      }).name,
    ).toBe('s');
  });

  it('is the package’s main export, and importing it loads no database or queue driver', async () => {
    await ensureBuiltCli();
    const script = `
      import { createRequire } from 'node:module';
      const sdk = await import('kiban');
      const require = createRequire(import.meta.url);
      const loaded = Object.keys(require.cache);
      const drivers = ['/node_modules/pg/', '/node_modules/ioredis/', '/node_modules/bullmq/', '/node_modules/better-sqlite3/', '/node_modules/@aws-sdk/'];
      console.log(JSON.stringify({ exports: Object.keys(sdk).sort(), drivers: drivers.filter((d) => loaded.some((m) => m.includes(d))) }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--input-type=module',
      '-e',
      script,
    ]);
    const { exports, drivers } = JSON.parse(stdout) as { exports: string[]; drivers: string[] };
    expect(exports).toEqual(
      expect.arrayContaining([
        'KibanClient',
        'builtinModels',
        'defineStage',
        'defineWorkflow',
        'assignUnit',
        'openServingStore',
        'evaluateRecommender',
      ]),
    );
    expect(drivers).toEqual([]);
  });
});
