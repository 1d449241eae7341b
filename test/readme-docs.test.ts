/**
 * The README's examples, run or parsed as written, so that the README cannot rot.
 *
 * Every fenced `yaml`, `json` and `sh` block of README.md is a test. A block may be classified by an
 * HTML comment on the line before its fence, `<!-- docs-test: KIND [reason] -->`:
 * - yaml: `kiban-config` (a whole kiban.yaml, read by loadKibanConfig), `pipeline-config`
 *   (kiban.yaml, checked by parsePipelineConfig), `feature-repo` (a features.yaml, checked by
 *   parseFeatureRepository), `export-policy` (an export policy, parseExportPolicy), `workflow` (parseWorkflow)
 *   or `workflow-tasks` (a fragment of `tasks:`, wrapped into a minimal workflow and each task's
 *   params checked by its kind's schema); without a marker the kind is recognised by content, and a
 *   yaml block of no recognisable kind fails, so a new block must be classified.
 * - json: parsed.
 * - sh: run for real by bash in a sandbox directory (symlinks to the project's package.json,
 *   node_modules, dist, datasets, examples, test…, its own `.kiban/` stores), in README order, so that
 *   later blocks see what earlier ones published. `npx kiban` is the documented command, run as
 *   written (with an npm cache of the test's own, which also shows that npx does not rebuild the
 *   package). Port 8080 becomes a free port; a command ending in `&` starts a server that the block
 *   then waits for (/healthz); a block that talks to the server without starting one gets a
 *   `npx kiban serve` started for it; `curl` fails on an HTTP error. Lines of a `$ ` transcript are
 *   commands and the rest their expected output, whose JSON shape must match.
 *   `quickstart`: the Quick start, which must be two commands, `npm install && npm start` first;
 *   `npm start` is run (with --port) until /readyz answers. `skip REASON`: not run (the reason is
 *   required and printed).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinTaskHandlers } from '../src/app/builtin-task-handlers.js';
import { loadKibanConfig } from '../src/app/config.js';
import { parseFeatureRepository } from '../src/features/feature-definitions.js';
import { parsePipelineConfig } from '../src/pipeline/pipeline-config.js';
import { parseExportPolicy } from '../src/privacy/export-policy.js';
import { parseWorkflow } from '../src/workflow/parse-workflow.js';

const ROOT = resolve(import.meta.dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
/** The task kinds the CLI validates workflows with. */
const TASK_HANDLERS = builtinTaskHandlers();

interface Block {
  lang: string;
  text: string;
  /** 1-based line of the opening fence. */
  line: number;
  section: string;
  marker: { kind: string; reason: string } | null;
}

/** Every fenced block of a Markdown text, with the `docs-test` marker just before it. */
function fencedBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#{1,6}\s+(.*)$/.exec(lines[i]);
    if (heading) section = heading[1];
    const fence = /^```(\w*)\s*$/.exec(lines[i]);
    if (!fence) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    let j = start - 1;
    while (j >= 0 && lines[j].trim() === '') j--;
    const m = j >= 0 ? /^<!--\s*docs-test:\s*(\S+)\s*(.*?)\s*-->$/.exec(lines[j].trim()) : null;
    blocks.push({
      lang: fence[1],
      text: body.join('\n'),
      line: start + 1,
      section,
      marker: m ? { kind: m[1], reason: m[2] } : null,
    });
  }
  return blocks;
}

const blocks = fencedBlocks(README);
const skipped: string[] = [];
const name = (b: Block): string =>
  `README.md:${b.line} (${b.section}) ${b.lang}${b.marker ? ` [${b.marker.kind}]` : ''}`;

// ---------- yaml ----------

/** A `kiban-config` block: read by loadKibanConfig as a kiban.yaml of its own (no environment). */
async function checkKibanConfig(b: Block): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kiban-readme-config-'));
  try {
    const file = join(dir, 'kiban.yaml');
    await writeFile(file, b.text);
    await loadKibanConfig({ file, env: {} });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function yamlKind(b: Block, doc: unknown): string | null {
  if (b.marker) return b.marker.kind;
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return null;
  const keys = Object.keys(doc);
  if (keys.includes('tasks')) return 'workflow';
  if (keys.some((k) => ['stores', 'model', 'aggregate', 'candidates'].includes(k)))
    return 'pipeline-config';
  const values = Object.values(doc);
  if (
    values.length > 0 &&
    values.every((v) => v !== null && typeof v === 'object' && ('kind' in v || 'run' in v))
  )
    return 'workflow-tasks';
  return null;
}

function checkYaml(b: Block): void {
  const doc = parseYaml(b.text, { prettyErrors: true }) as unknown;
  const kind = yamlKind(b, doc);
  switch (kind) {
    case 'pipeline-config':
      parsePipelineConfig(doc);
      return;
    case 'feature-repo':
      parseFeatureRepository(b.text, { file: 'features.yaml', root: ROOT });
      return;
    case 'export-policy':
      parseExportPolicy(b.text, { file: 'policy.yaml', baseDir: ROOT });
      return;
    case 'workflow': {
      const wf = parseWorkflow(b.text, 'README.md', TASK_HANDLERS);
      checkTaskParams(
        wf.tasks as unknown as { name: string; kind: string; params?: Record<string, unknown> }[],
        (doc as { params?: Record<string, unknown> }).params ?? {},
      );
      return;
    }
    case 'workflow-tasks': {
      const indented = b.text
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n');
      const wf = parseWorkflow(
        `name: readme-fragment\ntasks:\n${indented}\n`,
        'README.md',
        TASK_HANDLERS,
      );
      checkTaskParams(
        wf.tasks as unknown as { name: string; kind: string; params?: Record<string, unknown> }[],
        {},
      );
      return;
    }
    default:
      throw new Error(
        `${name(b)}: a yaml block of no known kind; put <!-- docs-test: pipeline-config | feature-repo | export-policy | workflow | workflow-tasks --> before it`,
      );
  }
}

/** Each task's params against its kind's schema, with `${name}` references replaced by the declared defaults. */
function checkTaskParams(
  tasks: { name: string; kind: string; params?: Record<string, unknown> }[],
  declared: Record<string, unknown>,
): void {
  for (const task of tasks) {
    const params = JSON.parse(
      JSON.stringify(task.params ?? {}).replace(/\$\{(\w+)\}/g, (whole, key: string) =>
        key in declared ? String(declared[key]) : whole,
      ),
    ) as Record<string, unknown>;
    const problems = TASK_HANDLERS.validate(task.kind, params);
    expect(problems, `task ${task.name} (${task.kind})`).toEqual([]);
  }
}

// ---------- sh ----------

let sandbox: string;
let npmCache: string;

async function freePort(): Promise<number> {
  return new Promise((resolveFn, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolveFn(port));
    });
  });
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a bash script in the sandbox in its own process group, killed (all of it) when it ends or after `limitMs`. */
async function bash(
  script: string,
  limitMs: number,
  env: Record<string, string> = {},
): Promise<Ran> {
  const child = spawn('bash', ['-c', script], {
    cwd: sandbox,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      npm_config_cache: npmCache,
      npm_config_update_notifier: 'false',
      NO_COLOR: '1',
      ...env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const closed = new Promise<void>((done) => child.on('close', () => done()));
  const timer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), limitMs);
  // The script's exit, not its pipes' close: a server it started may still hold them until killed.
  const code = await new Promise<number | null>((done) => child.on('exit', done));
  clearTimeout(timer);
  killGroup(child.pid!, 'SIGTERM');
  const stopped = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), 10_000);
  await closed;
  clearTimeout(stopped);
  return { code, stdout, stderr };
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

const PRELUDE = [
  'set -eo pipefail',
  // curl as the README writes it, but failing on an HTTP error status (the body still shows).
  'curl() { command curl -sS --fail-with-body "$@"; echo; }',
  'kiban_ready() { for _ in $(seq 1 600); do command curl -sf -o /dev/null "http://127.0.0.1:$PORT/$1" && return 0; sleep 0.5; done; echo "nothing answered on port $PORT" >&2; return 1; }',
  // Servers the block started in the background end with it.
  "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT",
].join('\n');

/** Joins `\` continuation lines. */
function commands(text: string): string[] {
  return text.replace(/\\\n\s*/g, ' ').split('\n');
}

/** The port as a number, not `$PORT`: the README quotes some URLs in single quotes. */
function rewrite(line: string, port: number): string {
  return line
    .replace(/(localhost|127\.0\.0\.1):8080/g, `127.0.0.1:${port}`)
    .replace(/\bkiban (serve|demo)\b/g, `kiban $1 --port ${port}`);
}

/** The shape of a JSON value: key names and value types, recursively (first element of arrays). */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]));
  return value === null ? 'null' : typeof value;
}

async function runSh(b: Block): Promise<void> {
  const port = await freePort();
  const transcript = b.text.split('\n').some((l) => l.startsWith('$ '));
  const lines = transcript
    ? b.text
        .split('\n')
        .filter((l) => l.startsWith('$ '))
        .map((l) => l.slice(2))
    : commands(b.text);
  const expected = transcript
    ? b.text.split('\n').filter((l) => !l.startsWith('$ ') && l.trim() !== '')
    : [];
  const body: string[] = [];
  const startsServer = lines.some((l) => /&\s*(#.*)?$/.test(l));
  const talksToServer = /(localhost|127\.0\.0\.1):8080/.test(b.text);
  if (talksToServer && !startsServer)
    body.push('npx kiban serve --port $PORT >serve.log 2>&1 &', 'kiban_ready healthz');
  for (const line of lines) {
    body.push(rewrite(line, port));
    if (/&\s*(#.*)?$/.test(line)) body.push('kiban_ready healthz');
  }
  const ran = await bash(`${PRELUDE}\nPORT=${port}\n${body.join('\n')}\n`, 280_000);
  const report = `${name(b)} exited ${ran.code}\n--- script\n${body.join('\n')}\n--- stdout\n${ran.stdout.slice(-4000)}\n--- stderr\n${ran.stderr.slice(-4000)}`;
  expect(ran.code, report).toBe(0);
  if (transcript) {
    const got = ran.stdout
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '');
    expect(
      got.map((l) => shape(JSON.parse(l))),
      report,
    ).toEqual(expected.map((l) => shape(JSON.parse(l))));
  }
}

async function runQuickStart(b: Block): Promise<void> {
  const lines = b.text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  expect(lines, 'the Quick start is two commands').toHaveLength(2);
  expect(lines[0].trim()).toBe('npm install && npm start');
  // npm install ran before this test (it built dist/); npm start serves until stopped, so it is
  // run on a free port until /readyz answers (the demo pipeline has then published).
  const port = await freePort();
  const ran = await bash(
    `${PRELUDE}\nPORT=${port}\nnpm start -- --port $PORT &\nkiban_ready readyz\ncurl "http://127.0.0.1:$PORT/v1/users/1/recommendations?k=3"\n`,
    280_000,
  );
  expect(
    ran.code,
    `npm start exited ${ran.code}\n${ran.stdout.slice(-3000)}\n${ran.stderr.slice(-3000)}`,
  ).toBe(0);
  expect(ran.stdout).toContain('kiban is serving on');
}

// ---------- the tests ----------

beforeAll(async () => {
  sandbox = await mkdtemp(join(tmpdir(), 'kiban-readme-'));
  npmCache = join(sandbox, '.npm-cache');
  await mkdir(npmCache);
  for (const entry of [
    'package.json',
    'node_modules',
    'dist',
    'build',
    'datasets',
    'examples',
    'src',
    'test',
    'tsconfig.json',
  ]) {
    await symlink(join(ROOT, entry), join(sandbox, entry));
  }
});

afterAll(async () => {
  if (skipped.length > 0)
    console.log(`README blocks not run:\n${skipped.map((s) => `  ${s}`).join('\n')}`);
  await rm(sandbox, { recursive: true, force: true });
});

describe('README.md', () => {
  it('has runnable blocks to test, each skip with its reason', () => {
    expect(blocks.filter((b) => ['yaml', 'sh', 'json'].includes(b.lang)).length).toBeGreaterThan(5);
    for (const b of blocks)
      if (b.marker?.kind === 'skip')
        expect(b.marker.reason, `${name(b)}: a skip needs a reason`).not.toBe('');
    // The docs test reads its own README: the package's files must not have been left out of the sandbox.
    expect(README).toContain('npx kiban');
  });

  for (const b of blocks) {
    if (b.lang === 'yaml' && b.marker?.kind === 'kiban-config')
      it(`${name(b)} is a valid kiban.yaml`, () => checkKibanConfig(b));
    else if (b.lang === 'yaml') it(`${name(b)} is valid`, () => checkYaml(b));
    else if (b.lang === 'json') it(`${name(b)} parses`, () => void JSON.parse(b.text));
    else if (b.lang === 'sh') {
      if (b.marker?.kind === 'skip') {
        skipped.push(`${name(b)}: ${b.marker.reason}`);
        continue;
      }
      if (b.marker?.kind === 'quickstart')
        it(`${name(b)}: npm start serves the demo`, () => runQuickStart(b), 300_000);
      else if (b.marker === null) it(`${name(b)} runs`, () => runSh(b), 300_000);
      else
        it(`${name(b)} has a known marker`, () =>
          expect.fail(`unknown docs-test marker "${b.marker!.kind}"`));
    }
  }
});
