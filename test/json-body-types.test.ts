import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BanditService } from '../src/bandits/bandit-service.js';
import { createServingApp } from '../src/serving/create-app.js';
import { ExperimentService } from '../src/experiments/experiment-service.js';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import { MemoryBanditStore } from '../src/storage/memory-bandit-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { createWorkflowService } from '../src/workflow/engine/create-workflow-service.js';
import { InlineExecutor } from '../src/workflow/executors/inline-executor.js';
import { call, callOk } from './fixtures/http-json.js';

/**
 * JSON bodies are taken with the JSON types their schema states: a string where a number belongs
 * (or the reverse, or null for a string) is a 400 naming the field, never converted. Query
 * strings are text and still give numbers (`?k=3`).
 */
describe('JSON bodies are not type-coerced on any POST or PUT route', () => {
  let dir: string;
  let metadata: KyselyMetadataStore;
  let executor: InlineExecutor;
  let workflows: Awaited<ReturnType<typeof createWorkflowService>>;
  let app: FastifyInstance;
  let base: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-json-types-'));
    await writeFile(
      join(dir, 'hello.yaml'),
      'name: hello\nparams: { greeting: hi }\ntasks:\n  say: { run: "echo hi" }\n',
    );
    metadata = KyselyMetadataStore.sqlite(join(dir, 'meta.db'));
    await metadata.migrate();
    executor = new InlineExecutor({ logs: metadata.workflows });
    workflows = await createWorkflowService({
      dir,
      metadata,
      executor,
      runUrl: (id) => `/runs/${id}`,
    });
    app = createServingApp({
      serving: new MemoryServingStore(),
      metadata,
      webRoot: false,
      workflows,
      bandits: new BanditService(new MemoryBanditStore()),
      experiments: new ExperimentService(metadata.experiments, { pollMs: 50 }),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    await callOk(base, 'PUT', '/v1/bandits/home', { policy: 'ucb1' });
    await callOk(base, 'PUT', '/v1/experiments/hero', {
      variants: [
        { name: 'control', weight: 1 },
        { name: 'treatment', weight: 1 },
      ],
    });
    await callOk(base, 'POST', '/v1/experiments/hero/start');
  });
  afterAll(async () => {
    await app?.close();
    await workflows?.close();
    await executor?.close();
    await metadata?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const cases: [string, string, unknown, RegExp][] = [
    ['POST', '/v1/tags/suggest', { text: 123 }, /body parameter text: must be string/],
    [
      'POST',
      '/v1/tags/suggest',
      { text: 'how long to rest a steak', k: '3' },
      /body parameter k: must be integer/,
    ],
    [
      'PUT',
      '/v1/bandits/other',
      { policy: 'linucb', dim: '3' },
      /body parameter dim: must be integer/,
    ],
    [
      'POST',
      '/v1/bandits/home/decide',
      { candidates: ['a', 'b'], slots: '1' },
      /body parameter slots: must be integer/,
    ],
    [
      'POST',
      '/v1/bandits/home/decide',
      { candidates: ['a', 2] },
      /body parameter candidates\/1: must be string/,
    ],
    [
      'POST',
      '/v1/bandits/home/feedback',
      { decisionId: 'd1', rewards: ['1'] },
      /body parameter rewards\/0: must be number/,
    ],
    [
      'PUT',
      '/v1/experiments/other',
      {
        variants: [
          { name: 'control', weight: '1' },
          { name: 'b', weight: 1 },
        ],
      },
      /weight/,
    ],
    ['POST', '/v1/experiments/hero/start', { at: 1767225600000 }, /at: must be an ISO-8601 time/],
    [
      'POST',
      '/v1/events',
      {
        events: [
          { eventId: 'e1', type: 'exposure', experiment: 'hero', unit: 42, variant: 'control' },
        ],
      },
      /body parameter events\/0\/unit: must be string/,
    ],
    [
      'POST',
      '/v1/events',
      {
        events: [
          {
            eventId: 'e2',
            type: 'value',
            experiment: 'hero',
            unit: 'u',
            metric: 'revenue',
            value: '9.5',
          },
        ],
      },
      /body parameter events\/0\/value: must be number/,
    ],
    [
      'POST',
      '/v1/workflows/hello/runs',
      { params: { greeting: null } },
      /body parameter params\/greeting: must be string,number,boolean/,
    ],
    [
      'POST',
      '/v1/workflows/hello/runs',
      { logicalDate: 20260101 },
      /body parameter logicalDate: must be string/,
    ],
  ];
  for (const [method, path, payload, message] of cases) {
    it(`${method} ${path} ${JSON.stringify(payload)} → 400 naming the field`, async () => {
      const answer = await call(base, method, path, payload);
      expect([answer.status, answer.body?.code]).toEqual([400, 'INVALID_ARGUMENT']);
      expect(answer.body.message).toMatch(message);
    });
  }

  it('still reads numbers from query strings', async () => {
    const answer = await call(base, 'GET', '/v1/workflows/hello/runs?limit=5');
    expect(answer.status).toBe(200);
  });
});
