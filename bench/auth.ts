/**
 * What authentication costs GET /v1/users/{id}/recommendations?k=10 (issue 17): the real serving
 * app on a SQLite serving store with auth off, with an API key, and with bearer JWTs signed
 * ES256 and RS256 against a JWKS served by a local HTTP server, all in one run. Reports:
 * - in process, around the authenticators' `authenticate` (as the auth hook calls them in
 *   order: API key, then JWT), the median and p99 per request once keys, JWKS and verified
 *   tokens are cached, and for a new JWT each request (JWKS cached: the signature check);
 * - the first, uncached JWT verification (a fresh authenticator: JWKS fetch, key import, verify);
 * - HMAC-SHA-256 against scrypt per key check (why keys are HMACs);
 * - end to end, from a second process: throughput at full speed (autocannon, bench/serve-load.ts)
 *   and latency at a fixed rate (bench/peers/rate-load.c, with its own lateness beside p99),
 *   each mode in `--rounds` interleaved rounds (each starting with another mode) so that a noisy
 *   machine hits them alike; the overhead is each mode's figure less auth off's in the same
 *   round.
 *
 *   npx tsx bench/auth.ts [--users 10000] [--seconds 5] [--rounds 3] [--rate 1000] [--samples 20000]
 *
 * Last line: JSON with every figure and the machine.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes, scryptSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { ApiKeyAuthenticator } from '../src/auth/api-key-authenticator.js';
import { createApiKey, hashApiKeySecret, verifyApiKeySecret } from '../src/auth/api-keys.js';
import { buildJwtAuthenticator } from '../src/auth/jwt-authenticator.js';
import type { AuthRequest, Authenticator, Principal } from '../src/auth/principal.js';
import { createServingApp } from '../src/serving/create-app.js';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import type { ScoredItem } from '../src/storage/serving-store.js';
import { SqliteServingStore } from '../src/storage/sqlite-serving-store.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '1000' },
    samples: { type: 'string', default: '20000' },
  },
});
const users = Number(values.users);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const rate = Number(values.rate);
const samples = Number(values.samples);
const LIST = 100;
const PATH = '/v1/users/42/recommendations?k=10';

function quantiles(times: Float64Array): { median: number; p99: number } {
  const sorted = Float64Array.from(times).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: round2(at(0.5)), p99: round2(at(0.99)) };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

// --- stores and credentials -------------------------------------------------------------------
const dir = await mkdtemp(join(tmpdir(), 'kiban-bench-auth-'));
const serving = new SqliteServingStore(join(dir, 'serving.db'));
{
  const writer = await serving.beginVersion(`bench-${Date.now()}`, { bench: true });
  await writer.putLists(
    'user',
    (function* (): Generator<[string, ScoredItem[]]> {
      for (let u = 1; u <= users; u++)
        yield [
          String(u),
          Array.from({ length: LIST }, (_, r) => ({
            id: (u * 7919 + r * 104729) % 50000,
            score: 1 - r / LIST,
          })),
        ];
    })(),
  );
  await writer.putLists('popular', [
    ['all', Array.from({ length: LIST }, (_, r) => ({ id: r, score: LIST - r }))],
  ]);
  await writer.commit();
}
const metadata = KyselyMetadataStore.sqlite(join(dir, 'meta.db'));
await metadata.migrate();
const pepper = randomBytes(32);
const { key: apiKey } = await createApiKey(metadata.apiKeys, pepper, {
  name: 'bench',
  scopes: ['recs:read'],
  createdBy: 'bench',
});

// A local issuer: a JWKS with one ES256 and one RS256 key, served over HTTP; fetches are counted.
const es = await generateKeyPair('ES256');
const rs = await generateKeyPair('RS256');
const jwks = JSON.stringify({
  keys: [
    { ...(await exportJWK(es.publicKey)), kid: 'es', alg: 'ES256', use: 'sig' },
    { ...(await exportJWK(rs.publicKey)), kid: 'rs', alg: 'RS256', use: 'sig' },
  ],
});
let jwksFetches = 0;
const issuerServer = createServer((request, response) => {
  if (request.url !== '/jwks.json') {
    response.writeHead(404).end();
    return;
  }
  jwksFetches++;
  response.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
});
await new Promise<void>((resolve) => issuerServer.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${(issuerServer.address() as { port: number }).port}`;
const oidc = {
  issuer,
  audience: 'kiban',
  jwksUri: `${issuer}/jwks.json`,
  algorithms: ['ES256', 'RS256'] as ('ES256' | 'RS256')[],
  rules: [{ claim: 'azp', equals: 'bench', scopes: ['recs:read' as const] }],
};
async function sign(alg: 'ES256' | 'RS256'): Promise<string> {
  return new SignJWT({ azp: 'bench' })
    .setProtectedHeader({ alg, kid: alg === 'ES256' ? 'es' : 'rs' })
    .setIssuer(issuer)
    .setAudience('kiban')
    .setSubject(`svc-bench-${randomBytes(4).toString('hex')}`)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(alg === 'ES256' ? es.privateKey : rs.privateKey);
}
const tokens = { ES256: await sign('ES256'), RS256: await sign('RS256') };

/** The authenticators in the order the app asks them (API key first, then JWT). */
function chain(): Authenticator[] {
  return [
    new ApiKeyAuthenticator({ store: metadata.apiKeys, pepper }),
    buildJwtAuthenticator(oidc),
  ];
}

/** What the auth hook does with a request: the first principal any authenticator finds. */
async function authenticate(
  authenticators: readonly Authenticator[],
  request: AuthRequest,
): Promise<Principal | null> {
  for (const a of authenticators) {
    const principal = await a.authenticate(request);
    if (principal !== null) return principal;
  }
  return null;
}

const modes = {
  'api-key': `Authorization: Bearer ${apiKey}`,
  'jwt-es256': `Authorization: Bearer ${tokens.ES256}`,
  'jwt-rs256': `Authorization: Bearer ${tokens.RS256}`,
} as const;
type AuthMode = keyof typeof modes;
const requestOf = (mode: AuthMode): AuthRequest => ({
  headers: { authorization: modes[mode].slice('Authorization: '.length) },
  ip: '127.0.0.1',
});

// --- in process: per-request cost with caches warm ------------------------------------------
const inProcess: Record<string, { median: number; p99: number }> = {};
{
  const authenticators = chain();
  for (const mode of Object.keys(modes) as AuthMode[]) {
    const request = requestOf(mode);
    const principal = await authenticate(authenticators, request);
    if (principal === null || !principal.scopes.has('recs:read'))
      throw new Error(`${mode}: the bench's credentials do not authenticate`);
    for (let k = 0; k < 2000; k++) await authenticate(authenticators, request);
    const times = new Float64Array(samples);
    for (let k = 0; k < samples; k++) {
      const t0 = process.hrtime.bigint();
      await authenticate(authenticators, request);
      times[k] = Number(process.hrtime.bigint() - t0) / 1000;
    }
    inProcess[mode] = quantiles(times);
  }
  for (const a of authenticators) await a.close?.();
}

// --- the first, uncached verification: a fresh authenticator each time ---------------------
const firstVerification: Record<string, { median: number; p99: number; fetches: number }> = {};
for (const alg of ['ES256', 'RS256'] as const) {
  const runs = 30;
  const times = new Float64Array(runs);
  const before = jwksFetches;
  for (let k = 0; k < runs; k++) {
    const jwt = buildJwtAuthenticator(oidc);
    const request: AuthRequest = { headers: { authorization: `Bearer ${tokens[alg]}` }, ip: '' };
    const t0 = process.hrtime.bigint();
    await jwt.authenticate(request);
    times[k] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  firstVerification[alg] = { ...quantiles(times), fetches: jwksFetches - before };
}

// --- a new token each time, JWKS cached: the signature check a cached token skips ----------
const newTokenUs: Record<string, { median: number; p99: number }> = {};
for (const alg of ['ES256', 'RS256'] as const) {
  const authenticators = chain();
  await authenticate(authenticators, {
    headers: { authorization: `Bearer ${tokens[alg]}` },
    ip: '',
  });
  const fresh = await Promise.all(Array.from({ length: 2000 }, () => sign(alg)));
  const times = new Float64Array(fresh.length);
  for (let k = 0; k < fresh.length; k++) {
    const request: AuthRequest = { headers: { authorization: `Bearer ${fresh[k]}` }, ip: '' };
    const t0 = process.hrtime.bigint();
    await authenticate(authenticators, request);
    times[k] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  newTokenUs[alg] = quantiles(times);
  for (const a of authenticators) await a.close?.();
}

// --- HMAC-SHA-256 against scrypt, per key check -----------------------------------------------
const hashes = (() => {
  const secret = randomBytes(32).toString('base64url');
  const hash = hashApiKeySecret(pepper, secret);
  for (let k = 0; k < 1000; k++) verifyApiKeySecret(pepper, secret, hash);
  const hmac = new Float64Array(samples);
  for (let k = 0; k < samples; k++) {
    const t0 = process.hrtime.bigint();
    verifyApiKeySecret(pepper, secret, hash);
    hmac[k] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  const salt = randomBytes(16);
  const scrypt = new Float64Array(10);
  for (let k = 0; k < scrypt.length; k++) {
    const t0 = process.hrtime.bigint();
    scryptSync(secret, salt, 32); // Node's default cost: N=16384, r=8, p=1
    scrypt[k] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  return { hmacUs: quantiles(hmac), scryptUs: quantiles(scrypt) };
})();

console.log(
  `in process, per request (µs, median / p99): ${Object.entries(inProcess)
    .map(([m, q]) => `${m} ${q.median} / ${q.p99}`)
    .join(', ')}`,
);
console.log(
  `a new JWT each request, JWKS cached (µs, median / p99): ES256 ${newTokenUs.ES256!.median} / ${newTokenUs.ES256!.p99}, RS256 ${newTokenUs.RS256!.median} / ${newTokenUs.RS256!.p99}`,
);
console.log(
  `first (uncached) JWT verification incl. JWKS fetch (µs, median): ES256 ${firstVerification.ES256!.median}, RS256 ${firstVerification.RS256!.median}`,
);
console.log(
  `key check: HMAC-SHA-256 ${hashes.hmacUs.median} µs, scrypt ${(hashes.scryptUs.median / 1000).toFixed(1)} ms (${Math.round(hashes.scryptUs.median / hashes.hmacUs.median)}×)`,
);

// --- end to end ---------------------------------------------------------------------------
const generator = join(dir, 'rate-load');
execFileSync('cc', ['-O2', '-o', generator, 'bench/peers/rate-load.c'], { stdio: 'inherit' });

interface FullSpeed {
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}
interface FixedRate {
  achievedRate: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  lateMs: { p99: number; max: number };
  non2xx: number;
  errors: number;
}

async function fullSpeed(url: string, header: string | undefined): Promise<FullSpeed> {
  const args = ['--import', 'tsx', 'bench/serve-load.ts', '--url', url, '--users', String(users)];
  args.push('--seconds', String(seconds), '--connections', '32');
  if (header !== undefined) args.push('--header', header);
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 1 << 24 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as FullSpeed;
}

async function fixedRate(url: string, header: string | undefined): Promise<FixedRate> {
  const { hostname, port } = new URL(url);
  const args = [hostname, port, PATH, '-', String(rate), String(seconds), '1'];
  if (header !== undefined) args.push(header);
  const { stdout } = await promisify(execFile)(generator, args, { maxBuffer: 1 << 24 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as FixedRate;
}

const apps = new Map<string, { app: FastifyInstance; url: string; header?: string }>();
for (const mode of ['off', ...Object.keys(modes)] as ('off' | AuthMode)[]) {
  const app = createServingApp({
    serving,
    webRoot: false,
    ...(mode === 'off' ? {} : { auth: { mode: 'required', authenticators: chain() } }),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  apps.set(mode, { app, url, ...(mode === 'off' ? {} : { header: modes[mode] }) });
}

type Phase = { mode: string; round: number; full: FullSpeed; fixed: FixedRate };
const phases: Phase[] = [];
for (const { url, header } of apps.values()) await fullSpeed(url, header); // warm-up, not reported
const order = [...apps];
for (let round = 1; round <= rounds; round++) {
  // Each round starts with another mode, so that no mode always follows the same one.
  const rotated = [...order.slice(round - 1), ...order.slice(0, round - 1)];
  for (const [mode, { url, header }] of rotated) {
    const full = await fullSpeed(url, header);
    const fixed = await fixedRate(url, header);
    // A non-2xx answer means the credentials failed: the figures would not measure auth.
    // Generator errors (connections refused or reset while the machine stalls) are reported.
    if (full.non2xx + fixed.non2xx > 0)
      throw new Error(`${mode}: non-2xx answers (${JSON.stringify({ full, fixed })})`);
    phases.push({ mode, round, full, fixed });
    console.log(
      `round ${round} ${mode.padEnd(9)} ${full.requestsPerSecond.toFixed(0).padStart(6)} req/s | at ${rate}/s: p50 ${fixed.latencyMs.p50} ms, p99 ${fixed.latencyMs.p99} ms (generator late p99 ${fixed.lateMs.p99} ms, errors ${full.errors + fixed.errors})`,
    );
  }
}
for (const { app } of apps.values()) await app.close();

// Per mode: throughput as a share of auth off, and the p50 difference at the fixed rate, each
// against auth off in the same round; the median over rounds.
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const endToEnd = Object.fromEntries(
  (Object.keys(modes) as AuthMode[]).map((mode) => {
    const shares: number[] = [];
    const p50DiffUs: number[] = [];
    const p99DiffUs: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const off = phases.find((p) => p.mode === 'off' && p.round === round)!;
      const on = phases.find((p) => p.mode === mode && p.round === round)!;
      shares.push(on.full.requestsPerSecond / off.full.requestsPerSecond);
      p50DiffUs.push((on.fixed.latencyMs.p50 - off.fixed.latencyMs.p50) * 1000);
      p99DiffUs.push((on.fixed.latencyMs.p99 - off.fixed.latencyMs.p99) * 1000);
    }
    return [
      mode,
      {
        throughputShareOfOff: round2(median(shares)),
        fixedRateP50DiffUs: Math.round(median(p50DiffUs)),
        fixedRateP99DiffUs: Math.round(median(p99DiffUs)),
      },
    ];
  }),
);
for (const [mode, e] of Object.entries(endToEnd))
  console.log(
    `${mode}: throughput ${(e.throughputShareOfOff * 100).toFixed(0)}% of auth off; at ${rate}/s p50 ${e.fixedRateP50DiffUs >= 0 ? '+' : ''}${e.fixedRateP50DiffUs} µs, p99 ${e.fixedRateP99DiffUs >= 0 ? '+' : ''}${e.fixedRateP99DiffUs} µs`,
  );

await new Promise<void>((resolve) => issuerServer.close(() => resolve()));
await metadata.close();
await serving.close();
await rm(dir, { recursive: true, force: true });

console.log(
  JSON.stringify({
    bench: 'auth',
    users,
    path: PATH,
    seconds,
    rounds,
    rate,
    inProcessUs: inProcess,
    newJwtVerificationUs: newTokenUs,
    firstJwtVerificationUs: firstVerification,
    keyCheckUs: hashes,
    endToEnd,
    phases,
    machine: { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version },
  }),
);
