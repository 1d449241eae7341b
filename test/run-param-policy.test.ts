import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinTaskHandlers } from '../src/app/builtin-task-handlers.js';
import { checkRunParams } from '../src/pipeline/run-param-policy.js';
import { parseWorkflow } from '../src/workflow/parse-workflow.js';

describe('run parameters of materialize and export tasks', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-run-params-'));
    await mkdir(join(dir, 'data', 'features'), { recursive: true });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const workflow = (tasks: string) =>
    parseWorkflow(
      `name: w\nparams: { repo: features, online: "sqlite:x.db", policy: p.yaml }\ntasks:\n${tasks}`,
      join(dir, 'data', 'w.yaml'),
      builtinTaskHandlers(),
    );
  const materialize = () =>
    workflow(
      '  m:\n    kind: materialize\n    params: { repo: "${repo}", online: "${online}", window: 1d }\n',
    );
  const policy = () => ({ dataRoot: join(dir, 'data'), allowStores: false });

  it('refuses a store URL for materialize online and a policy for export', () => {
    expect(() =>
      checkRunParams(materialize(), { online: 'redis://10.0.0.7:6379' }, policy()),
    ).toThrow(/^params\.online: sets a store/);
    const exporting = workflow('  e:\n    kind: export\n    params: { policy: "${policy}" }\n');
    expect(() => checkRunParams(exporting, { policy: '/tmp/other.yaml' }, policy())).toThrow(
      /^params\.policy: sets a store/,
    );
    // The operator's command line may.
    expect(() =>
      checkRunParams(exporting, { policy: '/tmp/other.yaml' }, { ...policy(), allowStores: true }),
    ).not.toThrow();
  });

  it('resolves a materialize repo against the workflow file, as the task does', () => {
    // Inside the data root from the workflow's directory (data/), whatever the working directory.
    expect(() => checkRunParams(materialize(), { repo: 'features' }, policy())).not.toThrow();
    expect(() => checkRunParams(materialize(), { repo: '../..' }, policy())).toThrow(
      /^params\.repo: .*inside the data root/,
    );
  });
});
