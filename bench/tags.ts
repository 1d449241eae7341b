/**
 * Trains and evaluates kiban's tagger and fastText (the Debian `fasttext` package:
 * `apt-get install -y fasttext`) side by side on the standard cooking split (first 12,404
 * questions train, last 3,000 valid), with the same settings, both on 2 threads:
 *
 *   a  defaults (dim 100, epoch 5, lr 0.1, wordNgrams 1, softmax)
 *   b  lr 1.0, epoch 25, wordNgrams 2
 *   c  one-vs-all: lr 0.5, epoch 25, wordNgrams 2, loss ova; also scored at k 5, threshold 0.5
 *
 * fastText splits on whitespace only, so it runs on three inputs: the raw file, the file
 * preprocessed as its tutorial does (sed splitting `. ! ? , ' / ( )`, then lower-casing) and
 * the file as kiban's tokeniser sees it (tokens joined by spaces). kiban always reads the raw file.
 *
 * Figures: P@1, R@1, P@5, R@5 (fastText's `test` definitions, computed for both from the
 * predictions), training seconds (kiban: `Tagger.train` including tokenisation; fastText: the
 * `supervised` process from start to its final progress line, i.e. reading, dictionary, matrix
 * set-up and training, and separately the whole process including writing the model), and
 * prediction latency per text (kiban: each `predict` call timed in process, mean and p99;
 * fastText: `predict-prob` over the 3,000 texts repeated 20 times, minus the median of three
 * `predict-prob` runs over one text, divided by 59,999, i.e. per-text cost with process start and
 * model loading taken out; no p99 for it). Both predict with k 1 (config c: k 5, threshold 0.5).
 *
 *   npx tsx bench/tags.ts [--config a|b|c|all] [--reps 1] [--no-peer] [--inputs raw,tutorial,kiban]
 *
 * Last line: one JSON object with every figure, the ratios kiban/fastText and the machine.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateTagger } from '../src/models/tags/evaluate-tagger.js';
import { readTagExamples } from '../src/models/tags/read-tag-examples.js';
import { Tagger, type TagExample, type TaggerOptions } from '../src/models/tags/tagger.js';
import { tokenize } from '../src/models/tags/tokenize.js';

const DATA = 'datasets/cooking-stackexchange/cooking.stackexchange.txt';
const TRAIN_LINES = 12404;
const THREADS = 2;

interface Config {
  name: string;
  options: Partial<TaggerOptions>;
  fastText: string[];
  /** Extra scoring at k 5 with this threshold (one-vs-all). */
  threshold?: number;
}
const CONFIGS: Record<string, Config> = {
  a: { name: 'defaults', options: {}, fastText: [] },
  b: {
    name: 'lr 1.0, epoch 25, wordNgrams 2',
    options: { lr: 1, epoch: 25, wordNgrams: 2 },
    fastText: ['-lr', '1.0', '-epoch', '25', '-wordNgrams', '2'],
  },
  c: {
    name: 'one-vs-all: lr 0.5, epoch 25, wordNgrams 2',
    options: { lr: 0.5, epoch: 25, wordNgrams: 2, loss: 'ova' },
    fastText: ['-lr', '0.5', '-epoch', '25', '-wordNgrams', '2', '-loss', 'ova'],
    threshold: 0.5,
  },
};
type Input = 'raw' | 'tutorial' | 'kiban';
const INPUTS: Input[] = ['raw', 'tutorial', 'kiban'];

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'all' },
    reps: { type: 'string', default: '1' },
    'no-peer': { type: 'boolean', default: false },
    inputs: { type: 'string', default: INPUTS.join(',') },
  },
});
const configKeys = values.config === 'all' ? Object.keys(CONFIGS) : values.config!.split(',');
for (const c of configKeys)
  if (!(c in CONFIGS)) throw new Error(`--config: unknown config "${c}" (a, b, c or all)`);
const reps = Number(values.reps);
const inputs = values.inputs!.split(',') as Input[];
for (const i of inputs)
  if (!INPUTS.includes(i)) throw new Error(`--inputs: unknown input "${i}" (${INPUTS.join(', ')})`);

/** Quality and speed of one trained model. */
interface Figures {
  p1: number;
  r1: number;
  p5: number;
  r5: number;
  /** P and R at k 5 with the config's threshold (config c). */
  pAtThreshold?: number;
  rAtThreshold?: number;
  trainSeconds: number;
  /** fastText only: the whole `supervised` process, model writing included. */
  processSeconds?: number;
  latencyMeanUs: number;
  latencyP99Us?: number;
  modelBytes: number;
}

const loadStart = loadavg();
const all = await readTagExamples(DATA);
const train = all.slice(0, TRAIN_LINES);
const valid = all.slice(TRAIN_LINES);
const dir = await mkdtemp(join(tmpdir(), 'kiban-tags-bench-'));

// ---- kiban -------------------------------------------------------------------------------------

async function runKiban(config: Config, seed: number): Promise<Figures> {
  const started = performance.now();
  const tagger = await Tagger.train(train, { ...config.options, threads: THREADS, seed });
  const trainSeconds = (performance.now() - started) / 1000;
  const at1 = evaluateTagger(tagger, valid, { k: 1 });
  const at5 = evaluateTagger(tagger, valid, { k: 5 });
  const thr =
    config.threshold === undefined
      ? null
      : evaluateTagger(tagger, valid, { k: 5, threshold: config.threshold });
  const predictOptions =
    config.threshold === undefined ? { k: 1 } : { k: 5, threshold: config.threshold };
  for (const e of valid) tagger.predict(e.text, predictOptions); // warm-up
  const times = valid.map((e) => {
    const t0 = performance.now();
    tagger.predict(e.text, predictOptions);
    return (performance.now() - t0) * 1000;
  });
  times.sort((x, y) => x - y);
  return {
    p1: at1.precision,
    r1: at1.recall,
    p5: at5.precision,
    r5: at5.recall,
    ...(thr === null ? {} : { pAtThreshold: thr.precision, rAtThreshold: thr.recall }),
    trainSeconds,
    latencyMeanUs: times.reduce((s, t) => s + t, 0) / times.length,
    latencyP99Us: times[Math.floor(times.length * 0.99)],
    modelBytes: tagger.toBytes().length,
  };
}

// ---- fastText ----------------------------------------------------------------------------------

function fastTextLine(e: TagExample, input: Input): string {
  const labels = e.tags.map((t) => `__label__${t}`).join(' ');
  if (input === 'kiban') return `${labels} ${tokenize(e.text).join(' ')}`;
  const line = `${labels} ${e.text}`;
  // The tutorial's `sed -e "s/\([.\!?,'/()]\)/ \1 /g" | tr "[:upper:]" "[:lower:]"` (ASCII data).
  return input === 'tutorial' ? line.replace(/([.!?,'/()])/g, ' $1 ').toLowerCase() : line;
}

/** The validation texts repeated this many times time fastText's predictions, so that they outweigh loading the model. */
const LATENCY_COPIES = 20;

interface InputFiles {
  train: string;
  valid: string;
  /** The validation file LATENCY_COPIES times over. */
  many: string;
  /** Its first line alone. */
  one: string;
}

async function writeInput(input: Input): Promise<InputFiles> {
  const path = (ext: string): string => join(dir, `${input}.${ext}`);
  const paths = {
    train: path('train'),
    valid: path('valid'),
    many: path('many'),
    one: path('one'),
  };
  const validText = valid.map((e) => fastTextLine(e, input)).join('\n') + '\n';
  await writeFile(paths.train, train.map((e) => fastTextLine(e, input)).join('\n') + '\n');
  await writeFile(paths.valid, validText);
  await writeFile(paths.many, validText.repeat(LATENCY_COPIES));
  await writeFile(paths.one, fastTextLine(valid[0], input) + '\n');
  return paths;
}

/** Runs fastText; resolves with stdout, the wall time and the time of its last stderr output. */
function fastText(
  args: string[],
): Promise<{ stdout: string; seconds: number; lastStderrSeconds: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let lastStderr = started;
    const child = spawn('fasttext', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      lastStderr = performance.now();
      err = (err + b.toString()).slice(-2000);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0)
        reject(new Error(`fasttext ${args[0]} exited with ${code}: ${err.slice(-300)}`));
      else
        resolve({
          stdout: Buffer.concat(out).toString(),
          seconds,
          lastStderrSeconds: (lastStderr - started) / 1000,
        });
    });
  });
}

/** P@k and R@k from `predict-prob` output, as fastText's test counts them (see evaluateTagger). */
function score(
  stdout: string,
  k: number,
  known: Set<string>,
): { precision: number; recall: number } {
  const lines = stdout.split('\n');
  let gold = 0;
  let predicted = 0;
  let correct = 0;
  valid.forEach((e, i) => {
    const tags = new Set(e.tags.filter((t) => known.has(t)));
    if (tags.size === 0) return;
    const tokens = lines[i]
      .split(' ')
      .filter((t) => t.startsWith('__label__'))
      .slice(0, k);
    gold += tags.size;
    predicted += tokens.length;
    for (const t of tokens) if (tags.has(t.slice('__label__'.length))) correct++;
  });
  return { precision: correct / predicted, recall: correct / gold };
}

async function runFastText(config: Config, paths: InputFiles, seed: number): Promise<Figures> {
  const model = join(dir, 'model');
  const trained = await fastText([
    'supervised',
    '-input',
    paths.train,
    '-output',
    model,
    '-thread',
    String(THREADS),
    '-seed',
    String(seed),
    '-verbose',
    '2',
    ...config.fastText,
  ]);
  const known = new Set(train.flatMap((e) => e.tags));
  const top5 = await fastText(['predict-prob', `${model}.bin`, paths.valid, '5']);
  const at1 = score(top5.stdout, 1, known);
  const at5 = score(top5.stdout, 5, known);
  const latencyArgs = config.threshold === undefined ? ['1'] : ['5', String(config.threshold)];
  const thr =
    config.threshold === undefined
      ? null
      : score(
          (await fastText(['predict-prob', `${model}.bin`, paths.valid, ...latencyArgs])).stdout,
          5,
          known,
        );
  const many = await fastText(['predict-prob', `${model}.bin`, paths.many, ...latencyArgs]);
  // Process start and model loading: the median of three runs over one text.
  const ones: number[] = [];
  for (let i = 0; i < 3; i++)
    ones.push(
      (await fastText(['predict-prob', `${model}.bin`, paths.one, ...latencyArgs])).seconds,
    );
  const one = ones.sort((x, y) => x - y)[1];
  const modelBytes = (await stat(`${model}.bin`)).size;
  await rm(`${model}.bin`, { force: true });
  await rm(`${model}.vec`, { force: true });
  return {
    p1: at1.precision,
    r1: at1.recall,
    p5: at5.precision,
    r5: at5.recall,
    ...(thr === null ? {} : { pAtThreshold: thr.precision, rAtThreshold: thr.recall }),
    trainSeconds: trained.lastStderrSeconds,
    processSeconds: trained.seconds,
    latencyMeanUs: ((many.seconds - one) / (valid.length * LATENCY_COPIES - 1)) * 1e6,
    modelBytes,
  };
}

// ---- run ---------------------------------------------------------------------------------------

/** Means of quality figures and medians of times over repetitions. */
function summarise(runs: Figures[]): Figures & { runs: number } {
  const mean = (f: (r: Figures) => number | undefined): number =>
    runs.reduce((s, r) => s + (f(r) ?? NaN), 0) / runs.length;
  const median = (f: (r: Figures) => number | undefined): number => {
    const xs = runs.map((r) => f(r) ?? NaN).sort((x, y) => x - y);
    return xs.length % 2 === 1
      ? xs[(xs.length - 1) / 2]
      : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
  };
  const r0 = runs[0];
  return {
    runs: runs.length,
    p1: mean((r) => r.p1),
    r1: mean((r) => r.r1),
    p5: mean((r) => r.p5),
    r5: mean((r) => r.r5),
    ...(r0.pAtThreshold === undefined
      ? {}
      : { pAtThreshold: mean((r) => r.pAtThreshold), rAtThreshold: mean((r) => r.rAtThreshold) }),
    trainSeconds: median((r) => r.trainSeconds),
    ...(r0.processSeconds === undefined ? {} : { processSeconds: median((r) => r.processSeconds) }),
    latencyMeanUs: median((r) => r.latencyMeanUs),
    ...(r0.latencyP99Us === undefined ? {} : { latencyP99Us: median((r) => r.latencyP99Us) }),
    modelBytes: median((r) => r.modelBytes),
  };
}

/** fastText's version from its Debian package, or null when the command is missing. */
function fastTextVersion(): string | null {
  if (spawnSync('fasttext', [], { stdio: 'ignore' }).error !== undefined) return null;
  const dpkg = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'fasttext'], {
    encoding: 'utf8',
  });
  return dpkg.status === 0 ? dpkg.stdout.trim() : 'unknown';
}
const peerVersion = values['no-peer'] ? null : fastTextVersion();
if (!values['no-peer'] && peerVersion === null)
  console.error(
    'fastText not run: the `fasttext` command is missing (apt-get install -y fasttext)',
  );
const peer = peerVersion !== null;
const inputPaths = new Map<Input, Awaited<ReturnType<typeof writeInput>>>();
if (peer) for (const input of inputs) inputPaths.set(input, await writeInput(input));

const results: Record<
  string,
  {
    name: string;
    kiban: Figures;
    fastText: Partial<Record<Input, Figures>>;
    ratios: Partial<Record<Input, Record<string, number>>>;
  }
> = {};
const fmt = (x: number | undefined, d = 4): string =>
  x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d);
console.log(
  `${'config / model'.padEnd(34)}${['P@1', 'R@1', 'P@5', 'R@5'].map((h) => h.padStart(9)).join('')}${'P,R@5>t'.padStart(15)}${['train s', 'proc s', 'µs/text', 'p99 µs', 'MB'].map((h) => h.padStart(9)).join('')}`,
);
const row = (name: string, f: Figures): string =>
  `${name.padEnd(34)}${[fmt(f.p1), fmt(f.r1), fmt(f.p5), fmt(f.r5)].map((v) => v.padStart(9)).join('')}${(f.pAtThreshold === undefined ? '–' : `${fmt(f.pAtThreshold)},${fmt(f.rAtThreshold)}`).padStart(15)}${[fmt(f.trainSeconds, 2), fmt(f.processSeconds, 2), fmt(f.latencyMeanUs, 1), fmt(f.latencyP99Us, 1), fmt(f.modelBytes / 1e6, 1)].map((v) => v.padStart(9)).join('')}`;

try {
  for (const key of configKeys) {
    const config = CONFIGS[key];
    const kibanRuns: Figures[] = [];
    const peerRuns = new Map<Input, Figures[]>();
    for (let rep = 0; rep < reps; rep++) {
      // Interleaved, so that a drift in the machine's speed hits both alike.
      kibanRuns.push(await runKiban(config, rep + 1));
      for (const [input, paths] of inputPaths) {
        const list = peerRuns.get(input) ?? [];
        list.push(await runFastText(config, paths, rep + 1));
        peerRuns.set(input, list);
      }
    }
    const kiban = summarise(kibanRuns);
    const fastTextFigures: Partial<Record<Input, Figures>> = {};
    const ratios: Partial<Record<Input, Record<string, number>>> = {};
    console.log(`(${key}) ${config.name}`);
    console.log(row('  kiban (raw file)', kiban));
    for (const [input, runs] of peerRuns) {
      const f = summarise(runs);
      fastTextFigures[input] = f;
      console.log(row(`  fastText (${input})`, f));
      ratios[input] = {
        p1: kiban.p1 / f.p1,
        trainSeconds: kiban.trainSeconds / f.trainSeconds,
        trainSecondsVsProcess: kiban.trainSeconds / f.processSeconds!,
        latency: kiban.latencyMeanUs / f.latencyMeanUs,
        modelBytes: kiban.modelBytes / f.modelBytes,
      };
    }
    for (const [input, r] of Object.entries(ratios)) {
      console.log(
        `  kiban/fastText(${input}): P@1 ${r.p1.toFixed(3)}×, train ${r.trainSeconds.toFixed(2)}× (${r.trainSecondsVsProcess.toFixed(2)}× of its whole process), latency ${r.latency.toFixed(2)}×, model ${r.modelBytes.toFixed(3)}×`,
      );
    }
    results[key] = { name: config.name, kiban, fastText: fastTextFigures, ratios };
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

console.log(
  JSON.stringify({
    bench: 'tags',
    data: { file: DATA, train: train.length, valid: valid.length },
    threads: THREADS,
    reps,
    thresholdConfigC: CONFIGS.c.threshold,
    results,
    peer: peer ? `fastText ${peerVersion} (Debian package fasttext)` : null,
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadavgStart: loadStart.map((x) => Number(x.toFixed(2))),
      loadavgEnd: loadavg().map((x) => Number(x.toFixed(2))),
    },
  }),
);
