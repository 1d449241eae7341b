/**
 * Rendering and validating every overlay of deploy/k8s (issue 21's goal: ≤ 5 s): the CLI end to
 * end as CI runs it (a fresh `node --import tsx` process: startup, `kubectl kustomize` per
 * overlay, schema and rule checks), then in process the first (cold: the schema modules load)
 * and later (warm) runs of render + validate, and rendering alone. Medians over the runs; the
 * last line is JSON.
 *
 * Run: `npx tsx bench/deploy-validate.ts [--runs N]`
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { renderKustomization } from '../deploy/validate/render.js';
import { DEFAULT_ROOT, listOverlays, validateOverlays } from '../deploy/validate/validate.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);
const REPO = resolve(import.meta.dirname, '..');
const TSX = pathToFileURL(resolve(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const CLI = resolve(REPO, 'deploy/validate/validate-manifests.ts');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function cliOnce(): Promise<{ ms: number; code: number; stderr: string }> {
  const start = performance.now();
  return new Promise((done) => {
    execFile(process.execPath, ['--import', TSX, CLI], { cwd: REPO }, (error, _stdout, stderr) =>
      done({
        ms: performance.now() - start,
        code: error ? Number(error.code ?? 1) : 0,
        stderr,
      }),
    );
  });
}

const cliMs: number[] = [];
for (let i = 0; i < runs; i++) {
  const result = await cliOnce();
  if (result.code !== 0) throw new Error(`the CLI exited ${result.code}: ${result.stderr}`);
  cliMs.push(result.ms);
}

const overlays = await listOverlays(DEFAULT_ROOT);
let start = performance.now();
const first = await validateOverlays();
const coldMs = performance.now() - start;
const objects = first.reduce((sum, result) => sum + result.objects.length, 0);
const problems = first.reduce((sum, result) => sum + result.problems.length, 0);

const warmMs: number[] = [];
const renderMs: number[] = [];
for (let i = 0; i < runs; i++) {
  start = performance.now();
  await validateOverlays();
  warmMs.push(performance.now() - start);
  start = performance.now();
  await Promise.all(
    overlays.map((overlay) => renderKustomization(join(DEFAULT_ROOT, 'overlays', overlay))),
  );
  renderMs.push(performance.now() - start);
}

console.log(
  `${overlays.length} overlays (${overlays.join(', ')}), ${objects} objects, ${problems} problems`,
);
console.log(
  `CLI end to end median ${median(cliMs).toFixed(0)} ms (min ${Math.min(...cliMs).toFixed(0)}); ` +
    `in process cold ${coldMs.toFixed(0)} ms, warm median ${median(warmMs).toFixed(0)} ms ` +
    `(rendering alone ${median(renderMs).toFixed(0)} ms); goal ≤ 5000 ms`,
);
console.log(
  JSON.stringify({
    overlays: overlays.length,
    objects,
    problems,
    runs,
    cliMedianMs: Math.round(median(cliMs)),
    cliMinMs: Math.round(Math.min(...cliMs)),
    inProcessColdMs: Math.round(coldMs),
    inProcessWarmMedianMs: Math.round(median(warmMs)),
    renderMedianMs: Math.round(median(renderMs)),
    goalMs: 5000,
    goalMet: median(cliMs) <= 5000,
  }),
);
