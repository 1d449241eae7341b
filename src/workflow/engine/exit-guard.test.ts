import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMetadataStore } from '../../app/open-stores.js';

const REPO = resolve(import.meta.dirname, '../../..');
const SCRIPT = join(REPO, 'test/fixtures/workflow/exit-while-driving.ts');

describe('a process that exits while it drives a run', { timeout: 120_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-exit-guard-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says on stderr which run it leaves running and how to resume it', async () => {
    const file = join(dir, 'exits.yaml');
    await writeFile(file, 'name: exits\ntasks:\n  first: { run: "true" }\n');
    const meta = `sqlite:${join(dir, 'meta.db')}`;
    const result = await promisify(execFile)(process.execPath, ['--import', 'tsx', SCRIPT, file, meta, join(dir, 'work')], { cwd: REPO }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );
    expect(result.code).toBe(7);
    const runId = /^run (\S+)$/m.exec(result.stdout)![1];
    expect(result.stderr).toContain(`exiting (exit code 7) while it still drives run ${runId}; it is left "running"`);
    expect(result.stderr).toContain(`kiban workflow retry ${runId}`);
    const store = await openMetadataStore(meta);
    try {
      expect((await store.workflows.getRun(runId))!.status).toBe('running');
    } finally {
      await store.close();
    }
  });
});
