import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinTaskHandlers } from '../../app/builtin-task-handlers.js';
import { openMetadataStore } from '../../app/open-stores.js';
import type { MetadataStore } from '../../storage/metadata-store.js';
import { MemoryServingStore } from '../../storage/memory-serving-store.js';
import { createWorkflowService } from '../../workflow/engine/create-workflow-service.js';
import type { WorkflowEngine } from '../../workflow/engine/workflow-engine.js';
import { InlineExecutor } from '../../workflow/executors/inline-executor.js';
import { createServingApp } from '../create-app.js';

const GOOD = `name: good
description: three quick shell tasks
schedule: { cron: "0 3 * * *", timezone: Europe/Paris }
params: { greeting: hello }
tasks:
  first: { run: "echo $KIBAN_PARAM_GREETING one; echo two" }
  second: { run: "echo second", needs: [first] }
  third: { run: "echo third", needs: [first] }
`;
const SLOW = `name: slow
tasks:
  nap: { run: "sleep 3" }
`;
const HOSTILE = `name: hostile
params: { semi: a, subst: b, tick: c, quotes: d, newline: e }
tasks:
  write: { run: 'printf %s "$KIBAN_PARAM_SEMI" > "$KIBAN_WORK_DIR/SEMI"; printf %s "$KIBAN_PARAM_SUBST" > "$KIBAN_WORK_DIR/SUBST"; printf %s "$KIBAN_PARAM_TICK" > "$KIBAN_WORK_DIR/TICK"; printf %s "$KIBAN_PARAM_QUOTES" > "$KIBAN_WORK_DIR/QUOTES"; printf %s "$KIBAN_PARAM_NEWLINE" > "$KIBAN_WORK_DIR/NEWLINE"; echo "$KIBAN_WORKFLOW $KIBAN_TASK $KIBAN_ATTEMPT $KIBAN_LOGICAL_DATE $KIBAN_RUN_ID"' }
`;
/** Pastes a parameter into the shell command: refused, and listed with its problem. */
const PASTED = `name: pasted
params: { msg: hi }
tasks:
  say: { run: "echo \${msg}" }
`;
/** Run parameters that feed a store and file paths. */
const FILES = `name: files
params: { serving: "sqlite:serving.db", events: events.csv, posts: posts.txt }
tasks:
  agg: { kind: aggregate, params: { events: "\${events}" } }
  pub: { kind: publish, needs: [agg], params: { stores: { serving: "\${serving}" } } }
  tagger: { kind: tags, needs: [agg], params: { input: "data/\${posts}" } }
`;
const BAD = `name: bad
tasks:
  ok: { run: "echo fine" }
  broken: { run: "echo 'disk quota exceeded on /data' >&2; exit 3", needs: [ok] }
  after: { run: "echo never", needs: [broken] }
`;

describe('workflow routes', () => {
  let dir: string;
  let metadata: MetadataStore;
  let engine: WorkflowEngine;
  let executor: InlineExecutor;
  let app: FastifyInstance;
  const serving = new MemoryServingStore();

  const call = async (method: 'GET' | 'POST', url: string, payload?: unknown) => {
    const res = await app.inject({
      method,
      url,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    return {
      status: res.statusCode,
      body: res.headers['content-type']?.toString().includes('json') ? res.json() : res.body,
      headers: res.headers,
    };
  };
  const waitFinal = async (runId: string) => {
    for (let i = 0; i < 200; i++) {
      const { body } = await call('GET', `/v1/runs/${runId}`);
      if (body.run.status !== 'running') return body;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`run ${runId} did not finish`);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-routes-'));
    await writeFile(join(dir, 'good.yaml'), GOOD);
    await writeFile(join(dir, 'bad.yaml'), BAD);
    await writeFile(join(dir, 'slow.yaml'), SLOW);
    await writeFile(join(dir, 'hostile.yaml'), HOSTILE);
    await writeFile(join(dir, 'pasted.yaml'), PASTED);
    await writeFile(join(dir, 'files.yaml'), FILES);
    await mkdir(join(dir, 'data'));
    await symlink('/etc', join(dir, 'data', 'etc'));
    metadata = await openMetadataStore(`sqlite:${join(dir, 'meta.db')}`);
    executor = new InlineExecutor({ logs: metadata.workflows });
    engine = await createWorkflowService({
      dir,
      metadata,
      executor,
      workRoot: join(dir, 'work'),
      handlers: builtinTaskHandlers(),
    });
    app = createServingApp({
      serving,
      workflows: engine,
      webRoot: false,
      dataRoot: join(dir, 'data'),
    });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await engine.close();
    await executor.close();
    await metadata.close();
    await serving.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists workflows with schedule, next run and tasks', async () => {
    const { status, body } = await call('GET', '/v1/workflows');
    expect(status).toBe(200);
    expect(body.workflows.map((w: { name: string }) => w.name).sort()).toEqual([
      'bad',
      'files',
      'good',
      'hostile',
      'slow',
    ]);
    const good = body.workflows.find((w: { name: string }) => w.name === 'good');
    expect(good).toMatchObject({
      description: 'three quick shell tasks',
      schedule: { cron: '0 3 * * *', timezone: 'Europe/Paris' },
      lastRun: null,
    });
    expect(Date.parse(good.nextRunAt)).toBeGreaterThan(Date.now());
    expect(good.tasks).toEqual([
      { name: 'first', kind: 'shell', needs: [] },
      { name: 'second', kind: 'shell', needs: ['first'] },
      { name: 'third', kind: 'shell', needs: ['first'] },
    ]);
  });

  it('lists invalid workflow files with their problems instead of dropping them', async () => {
    const { body } = await call('GET', '/v1/workflows');
    expect(body.invalid).toHaveLength(1);
    expect(body.invalid[0].file).toBe(join(dir, 'pasted.yaml'));
    expect(body.invalid[0].problems).toMatchObject([{ line: 4, path: 'tasks.say.run' }]);
    expect(body.invalid[0].problems[0].message).toContain('"$KIBAN_PARAM_MSG"');
  });

  it('passes run parameters to shell tasks as environment variables: ; $( ) backticks quotes and newlines run nothing', async () => {
    const pwned = join(dir, 'pwned');
    const values = {
      semi: `x; touch ${pwned}`,
      subst: `$(touch ${pwned})`,
      tick: `\`touch ${pwned}\``,
      quotes: `it's "quoted" '; touch ${pwned}; '`,
      newline: `first\ntouch ${pwned}\nlast`,
    };
    const start = await call('POST', '/v1/workflows/hostile/runs', {
      logicalDate: '2026-03-04',
      params: values,
    });
    expect(start.status).toBe(202);
    const detail = await waitFinal(start.body.runId);
    expect(detail.run.status).toBe('succeeded');
    const work = join(dir, 'work', 'runs', start.body.runId);
    for (const [name, value] of Object.entries(values))
      expect(await readFile(join(work, name.toUpperCase()), 'utf8'), name).toBe(value);
    const log = (await call('GET', `/v1/runs/${start.body.runId}/tasks/write/logs`)).body.lines.map(
      (l: { line: string }) => l.line,
    );
    expect(log).toEqual([`hostile write 1 2026-03-04T00:00:00.000Z ${start.body.runId}`]);
    expect(existsSync(pwned)).toBe(false);
  });

  it('refuses run parameters that set a store URL or name a file outside the data root (400 naming the parameter)', async () => {
    const refused: [Record<string, string>, string, RegExp][] = [
      [
        { serving: 'redis://10.0.0.7:6379' },
        'params.serving',
        /store URLs come only from the workflow file/,
      ],
      [{ serving: 'sqlite:/tmp/anywhere.db' }, 'params.serving', /store URLs come only/],
      [{ events: '/etc/passwd' }, 'params.events', /inside the data root/],
      [
        { events: join(dir, 'data', '..', '..', 'passwd') },
        'params.events',
        /inside the data root/,
      ],
      [{ events: join(dir, 'data', 'etc', 'passwd') }, 'params.events', /inside the data root/],
      [{ posts: '../../../etc/hosts' }, 'params.posts', /inside the data root/],
    ];
    const before = (await call('GET', '/v1/workflows/files/runs')).body.runs.length;
    for (const [params, field, reason] of refused) {
      const res = await call('POST', '/v1/workflows/files/runs', { params });
      expect(res.status, JSON.stringify(params)).toBe(400);
      expect(res.body.code).toBe('INVALID_ARGUMENT');
      expect(res.body.message.startsWith(`${field}: `), res.body.message).toBe(true);
      expect(res.body.message).toMatch(reason);
    }
    // Nothing was started.
    expect((await call('GET', '/v1/workflows/files/runs')).body.runs).toHaveLength(before);
    // A file inside the data root is fine (the run then fails on the missing file, once: invalid data is not retried).
    const ok = await call('POST', '/v1/workflows/files/runs', {
      params: { events: join(dir, 'data', 'events.csv') },
    });
    expect(ok.status).toBe(202);
    const failed = await waitFinal(ok.body.runId);
    expect(failed.run.status).toBe('failed');
    expect(failed.attempts.filter((a: { task: string }) => a.task === 'agg')).toHaveLength(1);
  });

  it('404s unknown workflows, runs and tasks with a JSON body', async () => {
    for (const [method, url] of [
      ['GET', '/v1/workflows/nope'],
      ['GET', '/v1/workflows/nope/runs'],
      ['POST', '/v1/workflows/nope/runs'],
      ['GET', '/v1/runs/nope'],
      ['GET', '/v1/runs/nope/events'],
      ['GET', '/v1/runs/nope/tasks/first/logs'],
      ['POST', '/v1/runs/nope/retry'],
    ] as const) {
      const res = await call(method, url, method === 'POST' ? {} : undefined);
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.body.code).toBe('NOT_FOUND');
      expect(res.body.message).toContain('nope');
    }
  });

  it('400s bad input, naming the field', async () => {
    const cases: [string, string, unknown, string][] = [
      ['GET', '/v1/runs?limit=0', undefined, 'limit'],
      ['GET', '/v1/runs?status=sleeping', undefined, 'status'],
      ['GET', '/v1/runs?colour=red', undefined, 'colour'],
      ['GET', '/v1/workflows/good/runs?limit=abc', undefined, 'limit'],
      ['POST', '/v1/workflows/good/runs', { when: 'now' }, 'when'],
      ['POST', '/v1/workflows/good/runs', { params: { greeting: { nested: true } } }, 'params'],
      ['POST', '/v1/workflows/good/runs', { params: { nope: 1 } }, 'params.nope'],
      ['POST', '/v1/workflows/good/runs', { logicalDate: 'yesterday-ish' }, 'logicalDate'],
    ];
    for (const [method, url, payload, field] of cases) {
      const res = await call(method as 'GET' | 'POST', url, payload);
      expect(res.status, `${method} ${url} ${JSON.stringify(payload)}`).toBe(400);
      expect(res.body.code).toBe('INVALID_ARGUMENT');
      expect(res.body.message).toContain(field);
    }
  });

  it('starts a run (202), shows it finished with tasks and attempts, and lists it', async () => {
    const start = await call('POST', '/v1/workflows/good/runs', {
      logicalDate: '2026-01-02',
      params: { greeting: 'hi' },
    });
    expect(start.status).toBe(202);
    const { runId } = start.body;
    expect(typeof runId).toBe('string');

    const detail = await waitFinal(runId);
    expect(detail.run).toMatchObject({
      id: runId,
      workflow: 'good',
      status: 'succeeded',
      trigger: 'manual',
      params: { greeting: 'hi' },
    });
    expect(detail.run.logicalDate).toMatch(/^2026-01-02T00:00:00/);
    expect(detail.run.definition.tasks).toHaveLength(3);
    expect(detail.tasks.map((t: { task: string; status: string }) => [t.task, t.status])).toEqual([
      ['first', 'succeeded'],
      ['second', 'succeeded'],
      ['third', 'succeeded'],
    ]);
    expect(detail.attempts).toHaveLength(3);
    expect(typeof detail.attempts[0].startedAt).toBe('string');

    const runs = await call('GET', '/v1/workflows/good/runs?limit=5');
    expect(runs.body.runs[0]).toMatchObject({ id: runId, status: 'succeeded' });
    // Lists leave out the definition snapshot; the single-run answer has it.
    expect(runs.body.runs[0].definition).toBeUndefined();
    const wf = await call('GET', '/v1/workflows/good');
    expect(wf.body.workflow.name).toBe('good');
    expect(wf.body.runs[0].id).toBe(runId);
    expect(
      (await call('GET', '/v1/runs?status=succeeded&workflow=good')).body.runs.map(
        (r: { id: string }) => r.id,
      ),
    ).toContain(runId);
    expect((await call('GET', '/v1/runs?status=failed&workflow=good')).body.runs).toEqual([]);
    expect(
      (await call('GET', '/v1/workflows')).body.workflows.find(
        (w: { name: string }) => w.name === 'good',
      ).lastRun.id,
    ).toBe(runId);

    // Retrying a run that did not fail is a conflict.
    const retry = await call('POST', `/v1/runs/${runId}/retry`);
    expect(retry.status).toBe(409);
    expect(retry.body.code).toBe('CONFLICT');
  });

  it('follows a log with afterSeq', async () => {
    const { runId } = (await call('POST', '/v1/workflows/good/runs', {})).body;
    await waitFinal(runId);
    const first = await call('GET', `/v1/runs/${runId}/tasks/first/logs`);
    expect(first.status).toBe(200);
    expect(first.body.lines.map((l: { line: string }) => l.line)).toEqual(['hello one', 'two']);
    expect(first.body.lastSeq).toBe(first.body.lines[1].seq);
    expect(first.body.more).toBe(false);

    // Nothing new: same position back, so a follower can keep asking with it.
    const none = await call(
      'GET',
      `/v1/runs/${runId}/tasks/first/logs?afterSeq=${first.body.lastSeq}`,
    );
    expect(none.body).toEqual({ lines: [], lastSeq: first.body.lastSeq, more: false });

    await metadata.workflows.appendLogs(runId, 'first', 1, [
      { at: new Date(), stream: 'stdout', line: 'three' },
      { at: new Date(), stream: 'stderr', line: 'four' },
    ]);
    const next = await call(
      'GET',
      `/v1/runs/${runId}/tasks/first/logs?afterSeq=${first.body.lastSeq}&limit=1`,
    );
    expect(next.body.lines.map((l: { line: string }) => l.line)).toEqual(['three']);
    expect(next.body.more).toBe(true);
    const last = await call(
      'GET',
      `/v1/runs/${runId}/tasks/first/logs?afterSeq=${next.body.lastSeq}`,
    );
    expect(last.body.lines).toMatchObject([{ line: 'four', stream: 'stderr', attempt: 1 }]);
    expect((await call('GET', `/v1/runs/${runId}/tasks/first/logs?attempt=2`)).body.lines).toEqual(
      [],
    );
    expect((await call('GET', `/v1/runs/${runId}/tasks/first/logs?afterSeq=-1`)).status).toBe(400);
    const unknownTask = await call('GET', `/v1/runs/${runId}/tasks/nope/logs`);
    expect(unknownTask.status).toBe(404);
    expect(unknownTask.body.message).toContain('task "nope"');
  });

  it('shows a failed run with its error and retries it (202) into a new attempt', async () => {
    const { runId } = (await call('POST', '/v1/workflows/bad/runs')).body;
    const failed = await waitFinal(runId);
    expect(failed.run.status).toBe('failed');
    const states = Object.fromEntries(
      failed.tasks.map((t: { task: string; status: string }) => [t.task, t.status]),
    );
    expect(states).toEqual({ ok: 'succeeded', broken: 'failed', after: 'upstream_failed' });
    // Over HTTP an error says what kind of failure it was and where its details are; its text
    // (here a path from stderr) is only in the task log.
    expect(failed.run.error).toBe(`task broken failed; details in its log (ref ${runId}/broken)`);
    const broken = failed.tasks.find((t: { task: string }) => t.task === 'broken');
    expect(broken.error).toBe(
      `command exited with code 3; details in the task log (ref ${runId}/broken#1)`,
    );
    const errors = [
      failed.run.error,
      ...failed.tasks.map((t: { error: string | null }) => t.error),
      ...failed.attempts.map((a: { error: string | null }) => a.error),
    ];
    const listed = (await call('GET', '/v1/runs?status=failed')).body.runs.map(
      (r: { error: string | null }) => r.error,
    );
    for (const error of [...errors, ...listed]) expect(String(error)).not.toContain('disk quota');
    const logs = await call('GET', `/v1/runs/${runId}/tasks/broken/logs`);
    expect(logs.body.lines).toMatchObject([
      { stream: 'stderr', line: 'disk quota exceeded on /data' },
    ]);

    const retry = await call('POST', `/v1/runs/${runId}/retry`);
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual({ runId });
    const again = await waitFinal(runId);
    expect(again.run.status).toBe('failed');
    expect(
      again.attempts
        .filter((a: { task: string }) => a.task === 'broken')
        .map((a: { attempt: number }) => a.attempt),
    ).toEqual([1, 2]);
    expect(again.attempts.filter((a: { task: string }) => a.task === 'ok')).toHaveLength(1);
  });

  it('streams run updates as Server-Sent Events and ends once the run is final', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const { runId } = (await call('POST', '/v1/workflows/good/runs', {})).body;
    const res = await fetch(`${base}/v1/runs/${runId}/events`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    // The server ends the stream after the final state, so reading to the end terminates.
    const text = await res.text();
    const events = text
      .split('\n\n')
      .filter((block) => block.startsWith('event:'))
      .map((block) => ({
        event: /^event: (.*)$/m.exec(block)![1],
        data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!),
      }));
    expect(events.at(-1)!.event).toBe('end');
    const runs = events.filter((e) => e.event === 'run');
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.at(-1)!.data.run.status).toBe('succeeded');
    expect(runs.at(-1)!.data.tasks.every((t: { status: string }) => t.status === 'succeeded')).toBe(
      true,
    );
    // Each event carries news: no two consecutive ones are the same.
    for (let i = 1; i < runs.length; i++)
      expect(JSON.stringify(runs[i]!.data)).not.toBe(JSON.stringify(runs[i - 1]!.data));

    // A finished run's stream sends its state once and ends at once.
    const again = await (await fetch(`${base}/v1/runs/${runId}/events`)).text();
    expect(again.match(/^event: run$/gm)).toHaveLength(1);
  });

  it('ends open event streams when the app closes, so shutdown does not wait for viewers', async () => {
    const other = createServingApp({ serving, workflows: engine, webRoot: false });
    await other.listen({ port: 0, host: '127.0.0.1' });
    const address = other.server.address();
    const { runId } = (await call('POST', '/v1/workflows/slow/runs', {})).body;
    const res = await fetch(
      `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1/runs/${runId}/events`,
    );
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('retry:');
    await other.close();
    // The stream ended without the run finishing: close did not wait for it (no clock needed).
    while (!(await reader.read()).done);
    expect((await call('GET', `/v1/runs/${runId}`)).body.run.status).toBe('running');
  });
});
