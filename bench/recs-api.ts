/**
 * What the recommendation API's depth (issue 22) costs on Redis: per-request latency of
 * GET …/users/{id}/recommendations?k=10 as plain top-k and with filters, hidden items and the
 * fallback chain, beside a bare fastify route answering a constant list with the same schema, all
 * in one run, one server, the phases interleaved in rounds so that drift hits them alike.
 *
 * Phases (sequential requests over one keep-alive connection, random users, µs timing):
 * - `bare`: a bare fastify route, a constant list of 10 (HTTP + serialisation floor);
 * - `plain-v1`: `/v1/…?k=10` of createServingApp (no user state: the pointer and the list);
 * - `plain`: `?k=10` with the user state store (hidden and seen read in parallel with the list);
 * - `filtered`: `?k=10&category=c1&exclude=…` for users with 3 hidden items (a quarter of the
 *   items are in c1, so the personal list is over-fetched and often read twice);
 * - `fallback`: the same for users without a list: the chain goes on to related-to-recent (no
 *   recent items), category-popular and popular.
 *
 *   npx tsx bench/recs-api.ts [--users 10000] [--requests 500] [--rounds 10] [--redis redis://127.0.0.1:6379]
 *
 * Last line: JSON with each phase's p50/p90/p99 (ms), the differences to `plain`, and the machine.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { openUserStateStore } from '../src/app/open-user-state-store.js';
import { createServingApp } from '../src/serving/create-app.js';
import {
  CATEGORY_POPULAR_LIST,
  POPULAR_LIST,
  RETIRED_LIST,
  USER_HISTORY_LIST,
  USER_LIST,
} from '../src/storage/serving-lists.js';
import { recommendationRoutes } from '../src/serving/routes/recommendations.js';
import { jsonSchemaOf, recommendationsRoute } from '../src/serving/schemas.js';
import { outputJsonSchema } from '../src/serving/zod-serializer.js';
import { RedisServingStore } from '../src/storage/redis-serving-store.js';
import type { ScoredItem } from '../src/storage/serving-store.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '10000' },
    requests: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '10' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
  },
});
const users = Number(values.users);
const perRound = Number(values.requests);
const rounds = Number(values.rounds);
const LIST = 100;
const ITEMS = 50_000;
const CATEGORIES = 4;

const itemOf = (u: number, r: number): number => (u * 7919 + r * 104729) % ITEMS;

const prefix = `kiban-bench-recs-${process.pid}:`;
const servingUrl = `${values.redis}?prefix=${encodeURIComponent(prefix)}`;
const serving = new RedisServingStore(values.redis!, { prefix });
const userState = await openUserStateStore(servingUrl);

// One version: user lists, popular, category-popular, retired (1 item in 100), histories.
const writer = await serving.beginVersion(`bench-${Date.now()}`, { bench: true });
await writer.putLists(
  USER_LIST,
  (function* (): Generator<[string, ScoredItem[]]> {
    for (let u = 1; u <= users; u++)
      yield [
        String(u),
        Array.from({ length: LIST }, (_, r) => ({ id: String(itemOf(u, r)), score: 1 - r / LIST })),
      ];
  })(),
);
await writer.putLists(
  USER_HISTORY_LIST,
  (function* (): Generator<[string, ScoredItem[]]> {
    for (let u = 1; u <= users; u++)
      yield [String(u), Array.from({ length: 20 }, (_, r) => ({ id: `h${u}-${r}`, score: 1 }))];
  })(),
);
await writer.putLists(POPULAR_LIST, [
  ['all', Array.from({ length: LIST }, (_, r) => ({ id: String(r), score: LIST - r }))],
]);
await writer.putLists(
  CATEGORY_POPULAR_LIST,
  Array.from({ length: CATEGORIES }, (_, c): [string, ScoredItem[]] => [
    `c${c}`,
    Array.from({ length: ITEMS / CATEGORIES }, (_, r) => ({
      id: String(r * CATEGORIES + c),
      score: ITEMS - r,
    })).filter((i) => Number(i.id) % 100 !== 7),
  ]),
);
await writer.putLists(RETIRED_LIST, [
  ['all', Array.from({ length: ITEMS / 100 }, (_, r) => ({ id: String(r * 100 + 7), score: 0 }))],
]);
await writer.commit();
// Users hide 3 of their top items (and fallback users, ids past `users`, 3 popular ones).
for (let u = 1; u <= 2 * users; u += 500)
  await Promise.all(
    Array.from({ length: Math.min(500, 2 * users + 1 - u) }, async (_, d) => {
      const user = String(u + d);
      for (let r = 0; r < 3; r++)
        await userState.hide(user, u + d <= users ? String(itemOf(u + d, r)) : String(r * 4 + 1));
    }),
  );

// The bare route: the same schema as JSON Schema, a constant list of 10.
const bare = Fastify();
const constant = {
  user: '1',
  items: Array.from({ length: 10 }, (_, r) => ({
    id: String(r),
    score: 1 - r / 10,
    source: 'personal',
  })),
  fallback: false,
};
bare.get(
  '/bare/users/:userId/recommendations',
  {
    schema: {
      params: jsonSchemaOf(recommendationsRoute.params),
      querystring: jsonSchemaOf(recommendationsRoute.querystring),
      response: { 200: outputJsonSchema(recommendationsRoute.response[200]) },
    },
  },
  async () => constant,
);

// /v1 without user state (plain-v1); /r with it, as a service with a user state store serves.
const app = createServingApp({ serving });
await app.register(recommendationRoutes, { prefix: '/r', serving, userState });

async function listen(server: FastifyInstance): Promise<string> {
  await server.listen({ port: 0, host: '127.0.0.1' });
  const address = server.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}
const bareUrl = await listen(bare);
const appUrl = await listen(app);

let seed = 12345;
const random = (n: number): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return 1 + (seed % n);
};
const PHASES: Record<string, () => string> = {
  bare: () => `${bareUrl}/bare/users/${random(users)}/recommendations?k=10`,
  'plain-v1': () => `${appUrl}/v1/users/${random(users)}/recommendations?k=10`,
  plain: () => `${appUrl}/r/users/${random(users)}/recommendations?k=10`,
  filtered: () => {
    const u = random(users);
    return `${appUrl}/r/users/${u}/recommendations?k=10&category=c1&exclude=${itemOf(u, 5)},${itemOf(u, 9)}`;
  },
  fallback: () =>
    `${appUrl}/r/users/${users + random(users)}/recommendations?k=10&category=c1&exclude=5,9`,
};
const timings: Record<string, number[]> = Object.fromEntries(
  Object.keys(PHASES).map((p) => [p, []]),
);
const sources: Record<string, Record<string, number>> = {};

async function run(phase: string, n: number, record: boolean): Promise<void> {
  for (let i = 0; i < n; i++) {
    const url = PHASES[phase]();
    const t0 = performance.now();
    const res = await fetch(url);
    const body = (await res.json()) as { items: { source: string }[] };
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`${phase}: ${res.status} ${JSON.stringify(body)}`);
    if (!record) continue;
    timings[phase].push(ms);
    sources[phase] ??= {};
    for (const item of body.items)
      sources[phase][item.source] = (sources[phase][item.source] ?? 0) + 1;
  }
}

for (const phase of Object.keys(PHASES)) await run(phase, 500, false); // warm-up
for (let round = 0; round < rounds; round++)
  for (const phase of Object.keys(PHASES)) await run(phase, perRound, true);

const pct = (sorted: number[], p: number): number =>
  Number(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(3));
const figures = Object.fromEntries(
  Object.entries(timings).map(([phase, ms]) => {
    const sorted = [...ms].sort((a, b) => a - b);
    return [
      phase,
      { requests: ms.length, p50: pct(sorted, 50), p90: pct(sorted, 90), p99: pct(sorted, 99) },
    ];
  }),
);
for (const [phase, f] of Object.entries(figures))
  console.log(
    `${phase.padEnd(9)} p50 ${f.p50.toFixed(3)} ms  p90 ${f.p90.toFixed(3)} ms  p99 ${f.p99.toFixed(3)} ms  sources ${JSON.stringify(sources[phase])}`,
  );
const overPlain = Object.fromEntries(
  ['filtered', 'fallback', 'plain'].map((p) => [
    p,
    {
      p50: Number((figures[p].p50 - figures.plain.p50).toFixed(3)),
      p99: Number((figures[p].p99 - figures.plain.p99).toFixed(3)),
    },
  ]),
);
const overBare = Number((figures.plain.p50 - figures.bare.p50).toFixed(3));
console.log(
  `over plain top-k (p50): filtered +${overPlain.filtered.p50} ms, fallback +${overPlain.fallback.p50} ms; plain over bare +${overBare} ms`,
);

await app.close();
await bare.close();
await serving.clear();
await userState.close();
await serving.close();

console.log(
  JSON.stringify({
    bench: 'recs-api',
    store: 'redis',
    users,
    listLength: LIST,
    k: 10,
    rounds,
    requestsPerRound: perRound,
    phases: figures,
    sources,
    overPlainMs: overPlain,
    plainOverBareP50Ms: overBare,
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model,
      node: process.version,
      loadavg: loadavg().map((l) => Number(l.toFixed(2))),
    },
  }),
);
