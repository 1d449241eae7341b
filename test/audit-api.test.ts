import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../src/auth/audit-store.js';
import { createLogger } from '../src/core/log.js';
import { ExperimentService } from '../src/experiments/experiment-service.js';
import { createServingApp, type ServingAppDeps } from '../src/serving/create-app.js';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { send, TokenAuthenticator } from './fixtures/token-authenticator.js';

const twoArms = {
  variants: [
    { name: 'control', weight: 1 },
    { name: 'treatment', weight: 1 },
  ],
};

interface Harness {
  app: FastifyInstance;
  base: string;
  metadata: KyselyMetadataStore;
  logLines: Record<string, unknown>[];
}

const open: Harness[] = [];

async function start(extra: Partial<ServingAppDeps> = {}): Promise<Harness> {
  const metadata = KyselyMetadataStore.sqlite(':memory:');
  await metadata.migrate();
  const logLines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'info',
    destination: { write: (line: string) => logLines.push(JSON.parse(line)) },
  });
  const app = createServingApp({
    serving: new MemoryServingStore(),
    metadata,
    webRoot: false,
    logger,
    experiments: new ExperimentService(metadata.experiments, { pollMs: 50 }),
    audit: metadata.audit,
    ...extra,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const harness = { app, base, metadata, logLines };
  open.push(harness);
  return harness;
}

afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.app.close();
    await h.metadata.close();
  }
});

/** Polls the audit log (records are written after the answer) until it holds `count` entries. */
async function auditEntries(h: Harness, count: number): Promise<AuditEntry[]> {
  for (;;) {
    const { entries } = await h.metadata.audit.list();
    if (entries.length >= count) return entries;
    await new Promise((r) => setImmediate(r));
  }
}

describe('audit log of the serving app', () => {
  it('records every write that reached a route, anonymous with auth off, and no reads or audit: false routes', async () => {
    const h = await start();
    // A route declaring audit: false (a read sent as POST) is left out; sent first, so that its
    // entry, were it recorded, would be written before the ones awaited below.
    expect((await send(h.base, 'POST', '/v1/tags/suggest', { body: { text: 'x' } })).status).toBe(
      503,
    );
    expect((await send(h.base, 'PUT', '/v1/experiments/hero', { body: twoArms })).status).toBe(201);
    expect((await send(h.base, 'GET', '/v1/experiments/hero')).status).toBe(200);
    expect((await send(h.base, 'POST', '/v1/experiments/hero/start', { body: {} })).status).toBe(
      200,
    );
    expect((await send(h.base, 'POST', '/v1/no-such-route')).status).toBe(404);
    expect((await send(h.base, 'DELETE', '/v1/experiments/nope/start')).status).toBe(404);
    const entries = await auditEntries(h, 2);
    expect(entries).toHaveLength(2);
    expect(entries.map(({ id, at, requestId, ...rest }) => rest)).toEqual([
      {
        principalId: null,
        principalName: null,
        method: 'none',
        action: 'POST /v1/experiments/:name/start',
        target: { name: 'hero' },
        status: 200,
        ip: '127.0.0.1',
      },
      {
        principalId: null,
        principalName: null,
        method: 'none',
        action: 'PUT /v1/experiments/:name',
        target: { name: 'hero' },
        status: 201,
        ip: '127.0.0.1',
      },
    ]);
    expect(entries[0]!.requestId).not.toBe(entries[1]!.requestId);
    // Read back through the API, paged by cursor (auth off: anyone may read).
    const first = await send(h.base, 'GET', '/v1/audit?limit=1');
    expect(first.status).toBe(200);
    expect(first.body.entries.map((e: { action: string }) => e.action)).toEqual([
      'POST /v1/experiments/:name/start',
    ]);
    expect(first.body.entries[0].at).toBe(entries[0]!.at.toISOString());
    const second = await send(h.base, 'GET', `/v1/audit?limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body.entries.map((e: { action: string }) => e.action)).toEqual([
      'PUT /v1/experiments/:name',
    ]);
    expect(second.body.nextCursor).toBeNull();
  });

  it('names the principal, records refused writes, and lets only audit:read or admin read it', async () => {
    const h = await start({
      auth: {
        mode: 'required',
        authenticators: [
          new TokenAuthenticator({
            root: ['admin'],
            writer: ['experiments:write'],
            auditor: ['audit:read'],
          }),
        ],
      },
    });
    expect(
      (await send(h.base, 'PUT', '/v1/experiments/hero', { token: 'writer', body: twoArms }))
        .status,
    ).toBe(201);
    expect((await send(h.base, 'POST', '/v1/experiments/hero/stop', { body: {} })).status).toBe(
      401,
    );
    const entries = await auditEntries(h, 2);
    expect(entries.map((e) => [e.principalId, e.principalName, e.method, e.status])).toEqual([
      [null, null, 'none', 401],
      ['id-writer', 'svc-writer', 'api-key', 201],
    ]);
    expect((await send(h.base, 'GET', '/v1/audit')).status).toBe(401);
    const refused = await send(h.base, 'GET', '/v1/audit', { token: 'writer' });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('FORBIDDEN');
    for (const token of ['auditor', 'root']) {
      const read = await send(h.base, 'GET', '/v1/audit?principal=id-writer', { token });
      expect(read.status).toBe(200);
      expect(read.body.entries.map((e: { principalId: string }) => e.principalId)).toEqual([
        'id-writer',
      ]);
    }
    const badCursor = await send(h.base, 'GET', '/v1/audit?cursor=abc', { token: 'root' });
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.message).toContain('cursor');
    const badFrom = await send(h.base, 'GET', '/v1/audit?from=yesterday', { token: 'root' });
    expect(badFrom.status).toBe(400);
    expect(badFrom.body.message).toContain('from');
  });

  it('answers writes as usual when the audit store fails, and logs the failure', async () => {
    const broken = KyselyMetadataStore.sqlite(':memory:');
    await broken.close(); // every record() now fails
    const h = await start({ audit: broken.audit });
    expect((await send(h.base, 'PUT', '/v1/experiments/hero', { body: twoArms })).status).toBe(201);
    for (;;) {
      if (h.logLines.some((l) => String(l.msg).startsWith('audit log: recording PUT'))) break;
      await new Promise((r) => setImmediate(r));
    }
    const line = h.logLines.find((l) => String(l.msg).startsWith('audit log: recording PUT'))!;
    expect(line.level).toBe(50);
    expect(line.action).toBe('PUT /v1/experiments/:name');
  });
});
