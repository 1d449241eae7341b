/**
 * Throughput of the ArtifactStore seam against the plain operation it wraps, in the same run:
 *
 * - `file:` against `fs` itself: a streamed put (temporary file, fsync, rename) against
 *   `fs.copyFile` alone, and against `copyFile` or a stream `pipeline` to a temporary file + fsync
 *   + rename (the same guarantees by hand),
 *   a get against `createReadStream`, small puts against `writeFile` (alone, and with fsync and
 *   rename), small gets against `readFile`;
 * - `s3://` (s3rver, started by this bench on a free port, storing in a temporary folder)
 *   against the AWS SDK used directly: a put of a large file against one `PutObject` of the
 *   whole buffer, a get against `GetObject`, small puts against `PutObject`.
 *
 * Two sizes: one large object (`--mib`, default 64, random bytes, read from a file as a model
 * would be) put and read `--reps` times (median MiB/s), and `--small` objects of 4 KiB put, read
 * and listed one after another (operations per second: the per-call cost, what a run's manifest
 * and pointers pay). s3rver runs in this process, so its CPU is counted against both sides alike.
 *
 *   npx tsx bench/artifacts.ts [--mib 64] [--reps 3] [--small 300]
 *
 * Last line: JSON with every figure, the ratios seam / plain, and the machine.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { openArtifactStore } from '../src/app/open-artifact-store.js';
import type { ArtifactStore } from '../src/storage/artifacts/artifact-store.js';
import { S3ArtifactStore } from '../src/storage/artifacts/s3-artifact-store.js';
import { startS3Server } from '../test/fixtures/s3-server.js';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '64' },
    reps: { type: 'string', default: '3' },
    small: { type: 'string', default: '300' },
  },
});
const MIB = Number(values.mib);
const REPS = Number(values.reps);
const SMALL = Number(values.small);
for (const [name, value] of [
  ['--mib', MIB],
  ['--reps', REPS],
  ['--small', SMALL],
] as const) {
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`${name} must be a positive integer, got ${String(value)}\n`);
    process.exit(2);
  }
}

const dir = await mkdtemp(join(tmpdir(), 'kiban-bench-artifacts-'));
const bigFile = join(dir, 'big.bin');
await writeFile(bigFile, randomBytes(MIB * 1024 * 1024));
const smallBody = randomBytes(4096);

/** Drains a stream, returning how many bytes it held. */
async function drain(stream: Readable | AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of stream) n += (chunk as Uint8Array).byteLength;
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median MiB/s of `reps` runs of `work` moving `MIB` MiB. */
async function mibPerSecond(work: (rep: number) => Promise<void>): Promise<number> {
  const rates: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const t0 = performance.now();
    await work(rep);
    rates.push(MIB / ((performance.now() - t0) / 1000));
  }
  return Math.round(median(rates));
}

/** Operations per second of `SMALL` sequential calls of `op`. */
async function opsPerSecond(op: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < SMALL; i++) await op(i);
  return Math.round(SMALL / ((performance.now() - t0) / 1000));
}

async function expectBytes(n: number, what: string): Promise<void> {
  if (n !== MIB * 1024 * 1024) throw new Error(`${what} read ${n} bytes, not ${MIB} MiB`);
}

/** The seam's figures on one store. */
async function seam(store: ArtifactStore): Promise<Record<string, number>> {
  const put = await mibPerSecond((rep) => store.put(`big/${rep}.bin`, createReadStream(bigFile)));
  const get = await mibPerSecond(async (rep) => {
    await expectBytes(await drain(await store.get(`big/${rep}.bin`)), 'seam get');
  });
  const smallPut = await opsPerSecond((i) => store.put(`small/${i}.bin`, smallBody));
  const smallGet = await opsPerSecond(async (i) => drain(await store.get(`small/${i}.bin`)));
  const t0 = performance.now();
  const listed = (await store.list('small/')).length;
  const listMs = performance.now() - t0;
  if (listed !== SMALL) throw new Error(`list returned ${listed} objects, not ${SMALL}`);
  return {
    putMiBps: put,
    getMiBps: get,
    smallPutPerS: smallPut,
    smallGetPerS: smallGet,
    listMs: Math.round(listMs),
  };
}

const results: Record<string, unknown> = { mib: MIB, reps: REPS, small: SMALL };

// file: — the seam against fs.
const fileRoot = join(dir, 'file-store');
const fileStore = await openArtifactStore(`file:${fileRoot}`);
const fileSeam = await seam(fileStore);
await fileStore.close();
const plainRoot = join(dir, 'plain');
await mkdir(join(plainRoot, 'small'), { recursive: true });
const filePlain = {
  putMiBps: await mibPerSecond((rep) => copyFile(bigFile, join(plainRoot, `${rep}.bin`))),
  getMiBps: await mibPerSecond(async (rep) => {
    await expectBytes(await drain(createReadStream(join(plainRoot, `${rep}.bin`))), 'fs read');
  }),
  smallPutPerS: await opsPerSecond((i) =>
    writeFile(join(plainRoot, 'small', `${i}.bin`), smallBody),
  ),
  smallGetPerS: await opsPerSecond((i) => readFile(join(plainRoot, 'small', `${i}.bin`))),
};
// The same guarantees as the seam's put, by hand: a temporary file, fsync, rename.
const durable = async (target: string, write: (tmp: string) => Promise<void>): Promise<void> => {
  const tmp = `${target}.tmp`;
  await write(tmp);
  const handle = await open(tmp, 'r+');
  await handle.sync();
  await handle.close();
  await rename(tmp, target);
};
const fileDurable = {
  putMiBps: await mibPerSecond((rep) =>
    durable(join(plainRoot, `d${rep}.bin`), (tmp) => copyFile(bigFile, tmp)),
  ),
  // What the seam does with a stream it is handed (it cannot copy a file it is not told of).
  streamedPutMiBps: await mibPerSecond((rep) =>
    durable(join(plainRoot, `s${rep}.bin`), (tmp) =>
      pipeline(createReadStream(bigFile), createWriteStream(tmp)),
    ),
  ),
  smallPutPerS: await opsPerSecond((i) =>
    durable(join(plainRoot, 'small', `d${i}.bin`), (tmp) => writeFile(tmp, smallBody)),
  ),
};
results.file = { seam: fileSeam, plain: filePlain, durable: fileDurable };

// s3:// — the seam against the SDK used directly, on the same server.
const s3 = await startS3Server('kiban-bench');
try {
  const s3Store = await S3ArtifactStore.open({
    bucket: s3.bucket,
    prefix: 'seam',
    endpoint: s3.endpoint,
    credentials: s3.credentials,
  });
  const s3Seam = await seam(s3Store);
  await s3Store.close();
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3.credentials,
  });
  const bucket = s3.bucket;
  const s3Plain = {
    putMiBps: await mibPerSecond(async (rep) => {
      const body = await readFile(bigFile);
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: `plain/${rep}.bin`, Body: body }),
      );
    }),
    getMiBps: await mibPerSecond(async (rep) => {
      const out = await client.send(
        new GetObjectCommand({ Bucket: bucket, Key: `plain/${rep}.bin` }),
      );
      await expectBytes(await drain(out.Body as Readable), 'SDK get');
    }),
    smallPutPerS: await opsPerSecond((i) =>
      client.send(new PutObjectCommand({ Bucket: bucket, Key: `plain/s/${i}`, Body: smallBody })),
    ),
    smallGetPerS: await opsPerSecond(async (i) => {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `plain/s/${i}` }));
      return drain(out.Body as Readable);
    }),
  };
  client.destroy();
  results.s3 = { seam: s3Seam, plain: s3Plain };
} finally {
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
}

const ratio = (side: 'file' | 's3') => {
  const { seam: a, plain: b } = results[side] as {
    seam: Record<string, number>;
    plain: Record<string, number>;
  };
  return Object.fromEntries(Object.keys(b).map((k) => [k, Math.round((a[k] / b[k]) * 100) / 100]));
};
results.ratio = {
  file: ratio('file'),
  fileDurable: {
    putMiBps: Math.round((fileSeam.putMiBps / fileDurable.putMiBps) * 100) / 100,
    streamedPutMiBps: Math.round((fileSeam.putMiBps / fileDurable.streamedPutMiBps) * 100) / 100,
    smallPutPerS: Math.round((fileSeam.smallPutPerS / fileDurable.smallPutPerS) * 100) / 100,
  },
  s3: ratio('s3'),
};
results.machine = {
  cpus: availableParallelism(),
  cpu: cpus()[0]?.model,
  memGiB: Math.round(totalmem() / 2 ** 30),
  loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  node: process.version,
};
process.stdout.write(
  `file, by hand with fsync + rename: put ${fileDurable.putMiBps} MiB/s (copyFile), ${fileDurable.streamedPutMiBps} MiB/s (streamed), 4 KiB put ${fileDurable.smallPutPerS}/s\n`,
);
for (const side of ['file', 's3'] as const) {
  const { seam: a, plain: b } = results[side] as {
    seam: Record<string, number>;
    plain: Record<string, number>;
  };
  process.stdout.write(
    `${side}: put ${a.putMiBps} MiB/s (plain ${b.putMiBps}), get ${a.getMiBps} MiB/s (plain ${b.getMiBps}), ` +
      `4 KiB put ${a.smallPutPerS}/s (plain ${b.smallPutPerS}), get ${a.smallGetPerS}/s (plain ${b.smallGetPerS}), list of ${SMALL} ${a.listMs} ms\n`,
  );
}
process.stdout.write(`${JSON.stringify(results)}\n`);
