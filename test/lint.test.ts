/**
 * Lint and format (Biome, biome.json: 100 columns): what `npm run lint` checks, failing the
 * suite on a lint error or an unformatted file. `npm run format` rewrites files in place.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '..');
const BIOME = resolve(REPO, 'node_modules/@biomejs/biome/bin/biome');

describe('lint and format', { timeout: 120_000 }, () => {
  it('finds no lint error and no unformatted file', async () => {
    const result = await promisify(execFile)(
      process.execPath,
      [BIOME, 'ci', '--colors=off', '--max-diagnostics=30', '.'],
      {
        cwd: REPO,
        maxBuffer: 64 * 1024 * 1024,
      },
    ).then(
      ({ stdout, stderr }) => ({ code: 0, output: `${stdout}${stderr}` }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({
        code: error.code ?? 1,
        output: `${error.stdout ?? ''}${error.stderr ?? ''}`,
      }),
    );
    // Sanity: Biome read the tree (a wrong configuration checks nothing and passes).
    const checked = Number(/Checked (\d+) files?/.exec(result.output)?.[1] ?? 0);
    expect(checked, result.output).toBeGreaterThan(300);
    expect(
      result.code,
      `biome ci found problems (npm run format fixes formatting):\n${result.output}`,
    ).toBe(0);
  });
});
