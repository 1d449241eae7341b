import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kiban } from './fixtures/kiban-cli.js';
import { openMetadataStore } from '../src/app/open-stores.js';
import type { MetadataStore } from '../src/storage/metadata-store.js';

async function until<T>(
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Each CLI call starts Node with tsx (seconds on a loaded 2-core machine): generous limits.
describe('kiban workflow (CLI, SQLite metadata store)', { timeout: 240_000 }, () => {
  let dir: string;
  let meta: string;
  let store: MetadataStore;
  const common = (): string[] => ['--metadata', meta, '--work-dir', join(dir, 'work')];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-wfcli-'));
    meta = `sqlite:${join(dir, 'meta.db')}`;
    store = await openMetadataStore(meta);
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a runner killed with SIGKILL mid-run is resumed by the next run: finished tasks kept, the interrupted one retried', async () => {
    const file = join(dir, 'crash.yaml');
    await writeFile(
      file,
      `name: crash
tasks:
  first: { run: "echo first" }
  long: { run: "echo started; if [ $KIBAN_ATTEMPT -eq 1 ]; then sleep 60; fi; echo finished", needs: [first] }
  last: { run: "echo last", needs: [long] }
`,
    );
    const args = [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'workflow',
      'run',
      file,
      '--logical-date',
      '2026-11-20',
      ...common(),
    ];
    // Its own process group, so that the kill takes the task's `sleep` down with the runner.
    const runner = spawn(process.execPath, args, { detached: true, stdio: 'ignore' });
    const exited = new Promise((r) => runner.once('exit', r));
    const run = await until(async () => (await store.workflows.listRuns({ workflow: 'crash' }))[0]);
    await until(async () =>
      (await store.workflows.readLogs(run.id, 'long')).some((l) => l.line === 'started'),
    );
    process.kill(-runner.pid!, 'SIGKILL');
    await exited;
    expect((await store.workflows.getRun(run.id))!.status).toBe('running');

    const again = await kiban('workflow', 'run', file, '--logical-date', '2026-11-20', ...common());
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`resuming interrupted run ${run.id}`);
    const done = (await store.workflows.getRun(run.id))!;
    expect(done.status).toBe('succeeded');
    expect((await store.workflows.listRuns({ workflow: 'crash' })).length).toBe(1);
    const attempts = (await store.workflows.listAttempts(run.id)).map(
      (a) => `${a.task}#${a.attempt}:${a.status}`,
    );
    expect(attempts).toEqual([
      'first#1:succeeded',
      'long#1:interrupted',
      'long#2:succeeded',
      'last#1:succeeded',
    ]);
  });

  it('shows, lists and prints logs of runs; retry resumes a failed run; errors name the problem', async () => {
    const flag = join(dir, 'fixed');
    const file = join(dir, 'fails.yaml');
    await writeFile(
      file,
      `name: fails\nparams: { n: 1 }\ntasks:\n  a: { run: "echo a n=$KIBAN_PARAM_N" }\n  b: { run: "test -f ${flag} || { echo 'b is broken' >&2; exit 3; }", needs: [a] }\n`,
    );
    const first = await kiban('workflow', 'run', file, '-p', 'n=2', ...common());
    expect(first.code).toBe(1);
    expect(first.stdout).toMatch(/b\s+failed: command exited with code 3: b is broken/);
    const runId = /^run (\S+) /m.exec(first.stdout)![1];

    const show = await kiban('workflow', 'show', runId, '--metadata', meta);
    expect(show.stdout).toMatch(/a\s+succeeded\s+1/);
    expect(show.stdout).toMatch(/b\s+failed\s+1 .*b is broken/);
    const logs = await kiban('workflow', 'logs', runId, 'a', '--metadata', meta);
    expect(logs.stdout).toBe('a n=2\n');
    const runs = await kiban(
      'workflow',
      'runs',
      '--workflow',
      'fails',
      '--json',
      '--metadata',
      meta,
    );
    expect(JSON.parse(runs.stdout).map((r: { id: string }) => r.id)).toEqual([runId]);

    await writeFile(flag, '');
    const retried = await kiban('workflow', 'retry', runId, ...common());
    expect(retried.code).toBe(0);
    const attempts = (await store.workflows.listAttempts(runId)).map(
      (a) => `${a.task}#${a.attempt}:${a.status}`,
    );
    expect(attempts).toEqual(['a#1:succeeded', 'b#1:failed', 'b#2:succeeded']);

    const bad = await kiban('workflow', 'run', file, '-p', 'n=x', ...common());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--param n: must be a number');
    const unknown = await kiban('workflow', 'show', 'no-such-run', '--metadata', meta);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('workflow run "no-such-run" not found');
    const again = await kiban('workflow', 'retry', runId, ...common());
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('only failed runs can be retried');
  });

  it('backfills one run per scheduled fire time in the range and skips dates that already succeeded', async () => {
    const file = join(dir, 'daily.yaml');
    await writeFile(
      file,
      `name: daily\nschedule: { cron: "0 3 * * *", timezone: Asia/Tokyo }\ntasks:\n  a: { run: "echo $KIBAN_LOGICAL_DATE" }\n`,
    );
    const first = await kiban(
      'workflow',
      'backfill',
      file,
      '--from',
      '2026-11-01',
      '--to',
      '2026-11-03T23:59:59Z',
      ...common(),
    );
    expect(first.code).toBe(0);
    const runs = await store.workflows.listRuns({ workflow: 'daily' });
    // 03:00 in Tokyo is 18:00 UTC the day before: Nov 1, 2 and 3 at 18:00 UTC are in range.
    expect(runs.map((r) => r.logicalDate).sort()).toEqual([
      '2026-11-01T18:00:00.000Z',
      '2026-11-02T18:00:00.000Z',
      '2026-11-03T18:00:00.000Z',
    ]);
    expect(runs.every((r) => r.trigger === 'backfill' && r.status === 'succeeded')).toBe(true);
    const second = await kiban(
      'workflow',
      'backfill',
      file,
      '--from',
      '2026-11-01',
      '--to',
      '2026-11-04T23:59:59Z',
      ...common(),
    );
    expect(second.stdout).toContain('backfilling 1 of 4 dates');
    expect((await store.workflows.listRuns({ workflow: 'daily' })).length).toBe(4);
  });
});
