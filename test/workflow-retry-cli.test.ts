import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kiban } from './fixtures/kiban-cli.js';
import { useTempMetadata } from './fixtures/temp-dir.js';

// Each CLI call starts Node with tsx (seconds on a loaded 2-core machine): generous limits.
describe('kiban workflow: a retry waiting out its backoff', { timeout: 240_000 }, () => {
  const tmp = useTempMetadata('kiban-retry-cli-');
  const common = (): string[] => [
    '--metadata',
    tmp.metadataUrl,
    '--work-dir',
    join(tmp.dir, 'work'),
  ];

  it('keeps `workflow run` alive through the backoff: a task failing twice succeeds on its third attempt, exit 0', async () => {
    const file = join(tmp.dir, 'flaky.yaml');
    // Fails on attempts 1 and 2; nothing but the backoff is pending between attempts.
    await writeFile(
      file,
      `name: flaky
tasks:
  flaky:
    run: 'if [ "$KIBAN_ATTEMPT" -lt 3 ]; then echo "attempt $KIBAN_ATTEMPT fails" >&2; exit 1; fi; echo "attempt $KIBAN_ATTEMPT works"'
    retry: { count: 3, backoff: 1s }
`,
    );
    const result = await kiban('workflow', 'run', file, '--json', ...common());
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
      id: string;
      status: string;
    };
    expect(printed.status).toBe('succeeded');

    const show = await kiban(
      'workflow',
      'show',
      printed.id,
      '--json',
      '--metadata',
      tmp.metadataUrl,
    );
    expect(show.code).toBe(0);
    const shown = JSON.parse(show.stdout) as {
      run: { status: string };
      attempts: { task: string; attempt: number; status: string }[];
    };
    expect(shown.run.status).toBe('succeeded');
    expect(shown.attempts.map((a) => `${a.task}#${a.attempt}:${a.status}`)).toEqual([
      'flaky#1:failed',
      'flaky#2:failed',
      'flaky#3:succeeded',
    ]);
    expect((await tmp.store.workflows.getRun(printed.id))!.status).toBe('succeeded');
  });

  it('keeps `workflow retry` alive through the backoff too', async () => {
    const flag = join(tmp.dir, 'second-round');
    const file = join(tmp.dir, 'flaky-retry.yaml');
    // First round: every attempt fails (2 of 2). After retry: attempt 3 fails, attempt 4 works.
    await writeFile(
      file,
      `name: flaky-retry
tasks:
  flaky:
    run: 'if [ ! -f "${flag}" ] || [ "$KIBAN_ATTEMPT" -lt 4 ]; then echo "attempt $KIBAN_ATTEMPT fails" >&2; exit 1; fi'
    retry: { count: 1, backoff: 1s }
`,
    );
    const first = await kiban('workflow', 'run', file, ...common());
    // The failure notification (the log notifier writes to stderr), and nothing else.
    expect(first.stderr.trim()).toMatch(
      /^❌ flaky-retry run \S+ \(.*\) failed at task flaky \(attempt 2\): command exited with code 1: attempt 2 fails$/,
    );
    expect(first.code).toBe(1);
    const runId = /^run (\S+) /m.exec(first.stdout)![1];
    await writeFile(flag, '');
    const retried = await kiban('workflow', 'retry', runId, ...common());
    expect(retried.stderr).toBe('');
    expect(retried.code).toBe(0);
    const attempts = (await tmp.store.workflows.listAttempts(runId)).map(
      (a) => `${a.task}#${a.attempt}:${a.status}`,
    );
    expect(attempts).toEqual([
      'flaky#1:failed',
      'flaky#2:failed',
      'flaky#3:failed',
      'flaky#4:succeeded',
    ]);
  });
});
