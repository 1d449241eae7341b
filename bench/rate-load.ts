/**
 * An open-loop load generator for latency at a fixed rate, run as its own process: requests
 * leave on a fixed schedule (`--rate` per second, evenly spaced, checked every millisecond) over
 * keep-alive connections (a new one whenever all are busy), whether or not earlier answers have
 * come back, and each answer's latency is timed from the moment its request was written to the
 * end of its response, to the microsecond.
 *
 * Why not autocannon's `overallRate`: it paces each connection on its own and, at a few hundred
 * requests/s, sends them in bursts that queue behind each other; a bare fastify route returning
 * a constant then shows a p99 of 13 ms with 4 connections (3 ms with 1) on this machine, which
 * measures the generator. Here the schedule is global.
 *
 *   npx tsx bench/rate-load.ts --url http://127.0.0.1:PORT --path /v1/tags/suggest --bodies FILE.jsonl --rate 500 --seconds 10
 *
 * `--bodies`: JSON lines POSTed in turn (without it, GET `--path`). Last line: JSON
 * `{rate, requests, achievedRate, latencyMs: {p50, p90, p99, p999, max}, lateMs: {p99, max}, non2xx, errors}`;
 * `lateMs` is how far behind schedule requests left (the generator's own lag).
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    path: { type: 'string', default: '/' },
    bodies: { type: 'string' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '1' },
  },
});
const target = new URL(values.url!);
const rate = Number(values.rate);
const bodies =
  values.bodies === undefined
    ? null
    : readFileSync(values.bodies, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '');
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

const latencies: number[] = [];
const lateness: number[] = [];
let non2xx = 0;
let errors = 0;
let inFlight = 0;
let sent = 0;

function send(record: boolean): void {
  const body = bodies === null ? null : bodies[sent % bodies.length];
  sent++;
  inFlight++;
  const t0 = performance.now();
  const req = request(
    {
      agent,
      host: target.hostname,
      port: target.port,
      path: values.path,
      method: body === null ? 'GET' : 'POST',
      headers:
        body === null
          ? {}
          : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    },
    (res) => {
      res.resume();
      res.on('end', () => {
        inFlight--;
        if (!record) return;
        latencies.push(performance.now() - t0);
        if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode >= 300) non2xx++;
      });
    },
  );
  req.on('error', () => {
    inFlight--;
    errors++;
  });
  req.end(body ?? undefined);
}

/** Sends `count` requests on schedule, starting now; resolves when all have answered. */
async function phase(count: number, record: boolean): Promise<number> {
  const interval = 1000 / rate;
  const start = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      while (next < count && start + next * interval <= now) {
        if (record) lateness.push(now - (start + next * interval));
        send(record);
        next++;
      }
      if (next >= count) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  const elapsed = (performance.now() - start) / 1000;
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  return elapsed;
}

await phase(Math.round(rate * Number(values.warmup)), false);
const count = Math.round(rate * Number(values.seconds));
const elapsed = await phase(count, true);
agent.destroy();

const quantile = (xs: number[], q: number): number => {
  const sorted = Float64Array.from(xs).sort();
  return sorted.length === 0
    ? NaN
    : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 100) / 100;
};
console.log(
  JSON.stringify({
    rate,
    requests: latencies.length,
    achievedRate: Math.round(count / elapsed),
    latencyMs: {
      p50: quantile(latencies, 0.5),
      p90: quantile(latencies, 0.9),
      p99: quantile(latencies, 0.99),
      p999: quantile(latencies, 0.999),
      max: quantile(latencies, 1),
    },
    lateMs: { p99: quantile(lateness, 0.99), max: quantile(lateness, 1) },
    non2xx,
    errors,
  }),
);
