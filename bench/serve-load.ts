/**
 * The load generator of bench/serve.ts and bench/tags-serve.ts, run as a separate process so that
 * it does not share the server's event loop. Sends GET requests for random users (ids 1..users)
 * with autocannon, or with `--bodies FILE` POSTs to `--path` the JSON lines of FILE in turn, and
 * prints autocannon's result as JSON on the last line.
 *
 *   npx tsx bench/serve-load.ts --url http://127.0.0.1:PORT --path '/v1/users/{id}/recommendations?k=10' \
 *     --users 10000 --seconds 10 --connections 32 [--rate 1000] [--bodies requests.jsonl] \
 *     [--header 'Authorization: Bearer …']
 *
 * `--header NAME: VALUE` is sent with every request (bench/auth.ts).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    path: { type: 'string', default: '/v1/users/{id}/recommendations?k=10' },
    users: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    rate: { type: 'string' },
    bodies: { type: 'string' },
    header: { type: 'string' },
  },
});
const extraHeaders: Record<string, string> =
  values.header === undefined
    ? {}
    : {
        [values.header.slice(0, values.header.indexOf(':')).trim()]: values.header
          .slice(values.header.indexOf(':') + 1)
          .trim(),
      };
const bodies =
  values.bodies === undefined
    ? null
    : readFileSync(values.bodies, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '');
const users = Number(values.users);
let next = 12345;
const result = await autocannon({
  url: values.url!,
  connections: Number(values.connections),
  duration: Number(values.seconds),
  ...(values.rate === undefined ? {} : { overallRate: Number(values.rate) }),
  requests: [
    bodies !== null
      ? {
          method: 'POST',
          path: values.path!,
          headers: { 'content-type': 'application/json', ...extraHeaders },
          setupRequest: (request) => {
            next = (next + 1) % bodies.length;
            return { ...request, body: bodies[next] };
          },
        }
      : {
          method: 'GET',
          headers: extraHeaders,
          setupRequest: (request) => {
            // A cheap deterministic spread over all users.
            next = (Math.imul(next, 1103515245) + 12345) >>> 0;
            return { ...request, path: values.path!.replace('{id}', String(1 + (next % users))) };
          },
        },
  ],
});
console.log(
  JSON.stringify({
    requestsPerSecond: result.requests.average,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  }),
);
