/**
 * Per-request cost of checking an API key's secret: HMAC-SHA-256 with a pepper (what kiban
 * stores, `src/auth/api-keys.ts`) against scrypt (a password hash, Node's default cost). Prints
 * the median of each in microseconds; the last line is JSON.
 *
 * Run: `npx tsx bench/api-key-hash.ts`
 */
import { randomBytes, scryptSync } from 'node:crypto';
import { hashApiKeySecret, verifyApiKeySecret } from '../src/auth/api-keys.js';

function medianMicros(runs: number, fn: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const start = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const pepper = randomBytes(32);
const secret = randomBytes(32).toString('base64url');
const hash = hashApiKeySecret(pepper, secret);
const salt = randomBytes(16);
for (let i = 0; i < 1000; i += 1) verifyApiKeySecret(pepper, secret, hash);
const hmacUs = medianMicros(20_000, () => verifyApiKeySecret(pepper, secret, hash));
const scryptUs = medianMicros(20, () => scryptSync(secret, salt, 32));
console.log(
  `HMAC-SHA-256 verify: ${hmacUs.toFixed(2)} µs; scrypt (N=16384, r=8, p=1): ${(scryptUs / 1000).toFixed(1)} ms`,
);
console.log(
  JSON.stringify({
    hmacVerifyMedianUs: hmacUs,
    scryptMedianUs: scryptUs,
    ratio: scryptUs / hmacUs,
  }),
);
