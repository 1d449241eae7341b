import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../../../test/fixtures/temp-dir.js';
import { openMetadataStore } from '../../app/open-stores.js';

const REPO = resolve(import.meta.dirname, '../../..');
const SCRIPT = join(REPO, 'test/fixtures/workflow/exit-while-driving.ts');

describe('a process that exits while it drives a run', { timeout: 120_000 }, () => {
  const tmp = useTempDir('kiban-exit-guard-');

  it('says on stderr which run it leaves running and how to resume it', async () => {
    const file = join(tmp.path, 'exits.yaml');
    await writeFile(file, 'name: exits\ntasks:\n  first: { run: "true" }\n');
    const meta = `sqlite:${join(tmp.path, 'meta.db')}`;
    const result = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', SCRIPT, file, meta, join(tmp.path, 'work')],
      { cwd: REPO },
    ).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        stdout: error.stdout,
        stderr: error.stderr,
      }),
    );
    expect(result.code).toBe(7);
    const runId = /^run (\S+)$/m.exec(result.stdout)![1];
    expect(result.stderr).toContain(
      `exiting (exit code 7) while it still drives run ${runId}; it is left "running"`,
    );
    expect(result.stderr).toContain(`kiban workflow retry ${runId}`);
    const store = await openMetadataStore(meta);
    try {
      expect((await store.workflows.getRun(runId))!.status).toBe('running');
    } finally {
      await store.close();
    }
  });
});
