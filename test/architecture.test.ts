/**
 * The layering of src/ as .dependency-cruiser.cjs states it (no cycles; domain libraries never
 * import the pipeline, HTTP serving, the composition root or the CLI; core/ and math/ at the
 * bottom), checked on the real import graph, type-only imports included.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '..');
const CRUISER = resolve(REPO, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: { name: string }[];
}

describe('architecture', { timeout: 120_000 }, () => {
  it('keeps the import graph of src/ inside the layering rules', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [CRUISER, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'],
      {
        cwd: REPO,
        maxBuffer: 256 * 1024 * 1024,
      },
    ).catch((error: { stdout?: string; message: string }) => {
      // The cruiser exits non-zero when it finds violations; its JSON is still on stdout.
      if (error.stdout) return { stdout: error.stdout };
      throw error;
    });
    const result = JSON.parse(stdout) as {
      summary: { violations: Violation[]; totalCruised: number };
    };
    // Sanity: the graph was read (a wrong config or resolver finds no modules and no violations).
    expect(result.summary.totalCruised).toBeGreaterThan(200);
    const described = result.summary.violations.map(
      (v) =>
        `${v.rule.name}: ${v.from} → ${v.cycle ? v.cycle.map((c) => c.name).join(' → ') : v.to}`,
    );
    expect(described).toEqual([]);
  });
});
