/**
 * deploy/Dockerfile, checked offline (no container daemon runs where kiban is tested): every
 * `COPY` source exists (in the build context and not dropped by .dockerignore, or as an output of
 * the stage it is copied from), the image's entrypoint runs the kiban CLI and its roles (the
 * Dockerfile's CMD and every container's first argument in deploy/k8s) are CLI commands, and the
 * production dependency set, installed as the image installs it, starts each role's `--help`.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_ENV, loadKibanConfig } from '../src/app/config.js';
import {
  dropSchemas,
  postgresUrlForTests,
  probePostgres,
  TEST_POSTGRES_URL,
} from './fixtures/postgres.js';

const ROOT = resolve(import.meta.dirname, '..');
const SCHEMA = `deploy_image_${process.pid}`;
const postgresProblem = await probePostgres(TEST_POSTGRES_URL);
const DOCKERFILE = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8');
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/**
 * The roles one image runs, each a CLI command path: deploy/k8s starts each with its words as
 * the first arguments (`stage bullmq-worker` runs stage partition jobs).
 */
const ROLES = ['serve', 'worker', 'scheduler', 'migrate', 'stage bullmq-worker'] as const;

/** A container's role: its leading arguments up to the first flag (the image's CMD without any). */
function roleOf(args: readonly unknown[] | undefined, cmd: readonly string[]): string {
  const words: string[] = [];
  for (const arg of args?.length ? args : cmd) {
    if (typeof arg !== 'string' || arg.startsWith('-')) break;
    words.push(arg);
  }
  return words.join(' ');
}

/** The install the image's `deps` stage runs, and this test runs in a clean directory. */
const PRODUCTION_INSTALL = 'npm install --omit=dev --no-audit --no-fund --ignore-scripts';

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  name: string;
  instructions: Instruction[];
}

/** The Dockerfile's instructions by stage (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const start = i + 1;
    let full = line;
    while (full.endsWith('\\') && i + 1 < lines.length) {
      full = `${full.slice(0, -1)} ${lines[++i].trim()}`;
    }
    const [keyword, ...rest] = full.split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(' '), line: start };
    if (instruction.keyword === 'FROM') {
      const as = /\bAS\s+(\S+)$/i.exec(instruction.args);
      stages.push({ name: as?.[1] ?? `stage${stages.length}`, instructions: [instruction] });
    } else if (stages.length > 0) stages[stages.length - 1].instructions.push(instruction);
  }
  return stages;
}

interface Copy {
  from: string | null;
  sources: string[];
  destination: string;
  line: number;
}

function copiesOf(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY')
    .map((i) => {
      const words = i.args.split(/\s+/);
      const flags = words.filter((w) => w.startsWith('--'));
      const paths = words.filter((w) => !w.startsWith('--'));
      const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length) ?? null;
      return {
        from,
        sources: paths.slice(0, -1),
        destination: paths[paths.length - 1],
        line: i.line,
      };
    });
}

/** The stage's working directory when instruction `line` runs. */
function workdirAt(stage: Stage, line: number): string {
  let dir = '/';
  for (const i of stage.instructions)
    if (i.keyword === 'WORKDIR' && i.line < line) dir = posix.resolve(dir, i.args);
  return dir;
}

/** Whether .dockerignore drops `path` from the build context (the patterns this repository uses). */
function dockerIgnored(path: string, patterns: readonly string[]): boolean {
  const toRegExp = (pattern: string): RegExp =>
    new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '(?:.*/)?')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')}(?:/.*)?$`,
    );
  let ignored = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    if (toRegExp(negated ? pattern.slice(1) : pattern).test(path)) ignored = !negated;
  }
  return ignored;
}

/** Exec-form JSON array of an ENTRYPOINT or CMD instruction. */
function execForm(stage: Stage, keyword: string): string[] {
  const found = stage.instructions.filter((i) => i.keyword === keyword).at(-1);
  expect(found, `${keyword} in stage ${stage.name}`).toBeDefined();
  const parsed: unknown = JSON.parse(found?.args ?? 'null');
  expect(Array.isArray(parsed), `${keyword} must be exec form (a JSON array)`).toBe(true);
  return parsed as string[];
}

function run(
  command: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      command,
      args,
      { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NODE_ENV: 'production' } },
      (error, stdout, stderr) =>
        done({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
  });
}

const helpRuns = new Map<string, Promise<string[] | undefined>>();

/**
 * The command names `kiban <parent…> --help` lists, run from `main` (once per parent);
 * undefined when it fails.
 */
function subcommands(
  parent: readonly string[],
  main: string[] = ['--import', TSX, join(ROOT, 'src/cli/main.ts')],
  cwd = ROOT,
): Promise<string[] | undefined> {
  const key = JSON.stringify([main, cwd, parent]);
  let listed = helpRuns.get(key);
  if (listed === undefined) {
    listed = run(process.execPath, [...main, ...parent, '--help'], cwd).then((help) => {
      if (help.code !== 0 || !help.stdout.includes('Commands:')) return undefined;
      const section = help.stdout.slice(help.stdout.indexOf('Commands:'));
      return [...section.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]);
    });
    helpRuns.set(key, listed);
  }
  return listed;
}

/** Whether the CLI (the sources, so it is current) has the command path `role`. */
async function cliHas(role: string, main?: string[], cwd?: string): Promise<boolean> {
  const words = role.split(' ');
  const commands = await subcommands(words.slice(0, -1), main, cwd);
  return commands?.includes(words[words.length - 1]) ?? false;
}

/** Every YAML file under `dir`. */
async function yamlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await yamlFiles(path)));
    else if (/\.ya?ml$/.test(entry.name)) out.push(path);
  }
  return out;
}

const stages = parseDockerfile(DOCKERFILE);
const stageNamed = (name: string): Stage => {
  const stage = stages.find((s) => s.name === name);
  if (stage === undefined) throw new Error(`deploy/Dockerfile has no stage "${name}"`);
  return stage;
};
const runtime = stages[stages.length - 1];

/**
 * What each stage produces, by absolute path in it: the build stage's `npm run build` writes
 * tsc's outDir and build:wasm's `-o` directory (read from the repository, so a moved output
 * fails here); the deps stage's production install writes node_modules.
 */
function stageOutputs(): Record<string, string[]> {
  const build = stageNamed('build');
  const deps = stageNamed('deps');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as {
    compilerOptions: { outDir: string };
  };
  const wasmDirs = [...pkg.scripts['build:wasm'].matchAll(/-o (\S+)\/[^/\s]+\.wasm/g)].map(
    (m) => m[1],
  );
  const buildRuns = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  expect(buildRuns.some((r) => /\bnpm run build\b/.test(r))).toBe(true);
  const buildDir = workdirAt(build, Number.MAX_SAFE_INTEGER);
  const depsRuns = deps.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  expect(depsRuns.some((r) => r.includes(PRODUCTION_INSTALL))).toBe(true);
  const depsDir = workdirAt(deps, Number.MAX_SAFE_INTEGER);
  return {
    build: [
      posix.join(buildDir, tsconfig.compilerOptions.outDir),
      ...new Set(wasmDirs.map((d) => posix.join(buildDir, d))),
    ],
    deps: [posix.join(depsDir, 'node_modules')],
  };
}

describe('deploy/Dockerfile', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    if (postgresProblem === null) await dropSchemas([SCHEMA]);
  });

  it('copies only what exists: context paths not dropped by .dockerignore, or a stage output', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    const outputs = stageOutputs();
    expect(stages.map((s) => s.name)).toEqual(['build', 'deps', 'runtime']);
    let copies = 0;
    for (const stage of stages)
      for (const copy of copiesOf(stage)) {
        for (const source of copy.sources) {
          copies++;
          const where = `deploy/Dockerfile:${copy.line} COPY ${source}`;
          if (copy.from === null) {
            expect(existsSync(join(ROOT, source)), `${where}: not in the repository`).toBe(true);
            expect(dockerIgnored(source, ignore), `${where}: dropped by .dockerignore`).toBe(false);
          } else {
            const produced = outputs[copy.from];
            expect(produced, `${where}: no stage "${copy.from}" with known outputs`).toBeDefined();
            expect(
              produced?.some((out) => source === out || source.startsWith(`${out}/`)),
              `${where}: not produced by stage ${copy.from} (${produced?.join(', ')})`,
            ).toBe(true);
          }
        }
      }
    expect(copies).toBeGreaterThan(8);
    // What the runtime stage needs from the build: the compiled CLI and the kernels it loads.
    const runtimeSources = copiesOf(runtime).flatMap((c) => c.sources);
    expect(runtimeSources).toEqual(
      expect.arrayContaining(['/src/dist', '/src/build/wasm', '/opt/kiban/node_modules']),
    );
  });

  it('runs the kiban CLI as a non-root user under tini, a role per container: serve, worker, scheduler, migrate, stage bullmq-worker', {
    // Three `--help` runs of the CLI from its sources, each loading it under tsx.
    timeout: 180_000,
  }, async () => {
    const entrypoint = execForm(runtime, 'ENTRYPOINT');
    const cmd = execForm(runtime, 'CMD');
    expect(entrypoint.slice(0, 3)).toEqual(['/usr/bin/tini', '--', 'node']);
    const main = entrypoint[3];
    // The CLI is where the runtime stage copied the build's dist/.
    const distCopy = copiesOf(runtime).find((c) => c.sources.includes('/src/dist'));
    expect(distCopy).toBeDefined();
    const distDir = posix.resolve(
      workdirAt(runtime, distCopy?.line ?? 0),
      distCopy?.destination ?? '',
    );
    expect(main).toBe(posix.join(distDir, 'cli/main.js'));
    expect(existsSync(join(ROOT, 'src/cli/main.ts'))).toBe(true);
    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args ?? '';
    expect(user, 'USER must be a numeric, non-root uid(:gid)').toMatch(/^[1-9]\d*(:\d+)?$/);

    for (const role of ROLES) expect(await cliHas(role), `kiban ${role}`).toBe(true);
    // An unknown command, top-level or a subcommand, is no role.
    expect(await cliHas('no-such-role')).toBe(false);
    expect(await cliHas('stage no-such-worker')).toBe(false);
    expect(await cliHas('no-such-group bullmq-worker')).toBe(false);
    expect(ROLES as readonly string[]).toContain(roleOf([], cmd));

    // Every container deploy/k8s starts from this image runs a role the CLI has.
    const containerRoles: string[] = [];
    for (const file of await yamlFiles(join(ROOT, 'deploy/k8s'))) {
      for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
        const object = doc.toJS() as Record<string, unknown> | null;
        const spec = (object?.spec ?? {}) as Record<string, any>;
        const pod = spec.template?.spec ?? spec.jobTemplate?.spec?.template?.spec;
        for (const container of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
          if (!String(container.image ?? '').includes('kiban')) continue;
          const role = roleOf(container.args, cmd);
          containerRoles.push(role);
          expect(
            ROLES as readonly string[],
            `${relative(ROOT, file)}: container ${container.name} runs "${role}"`,
          ).toContain(role);
        }
      }
    }
    expect(new Set(containerRoles)).toEqual(new Set(ROLES));
  });

  it('installs the production dependency set in a clean directory and starts every role (--help)', {
    timeout: 180_000,
  }, async () => {
    for (const built of ['dist/cli/main.js', 'build/wasm'])
      expect(existsSync(join(ROOT, built)), `${built}: run npm run build first`).toBe(true);
    const dir = await mkdtemp(join(tmpdir(), 'kiban-image-'));
    dirs.push(dir);
    // What the deps stage and the runtime stage copy from the context and the build.
    for (const file of ['package.json', 'package-lock.json', '.npmrc', 'datasets', 'LICENSE'])
      await cp(join(ROOT, file), join(dir, file), { recursive: true });
    await cp(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
    await cp(join(ROOT, 'build/wasm'), join(dir, 'build/wasm'), { recursive: true });

    const [npm, ...args] = PRODUCTION_INSTALL.split(' ');
    const install = await run(npm, args, dir);
    expect(install.code, install.stderr).toBe(0);
    // Production only: the build's tools and the test framework stay out of the image.
    for (const dev of ['vitest', 'typescript', '@biomejs/biome', 'assemblyscript', 'vite'])
      expect(existsSync(join(dir, 'node_modules', dev)), `${dev} installed`).toBe(false);
    for (const prod of ['fastify', 'bullmq', 'kysely', 'pg', 'better-sqlite3'])
      expect((await stat(join(dir, 'node_modules', prod))).isDirectory()).toBe(true);

    // dist/ is what the image ships: built by `npm run build` (npm install's prepare step).
    const builtHelp = await run(process.execPath, ['dist/cli/main.js', '--help'], dir);
    expect(builtHelp.code, builtHelp.stderr).toBe(0);
    for (const role of ROLES)
      expect(
        await cliHas(role, ['dist/cli/main.js'], dir),
        `dist/cli/main.js has no "${role}" command: dist/ is older than src/, run npm run build`,
      ).toBe(true);
    for (const role of ROLES) {
      const help = await run(
        process.execPath,
        ['dist/cli/main.js', ...role.split(' '), '--help'],
        dir,
      );
      expect(help.code, `${role} --help: ${help.stderr}`).toBe(0);
      expect(help.stdout).toContain(`Usage: kiban ${role}`);
    }

    // And the migration Job's command does its work with these dependencies alone (pg loads).
    expect(postgresProblem, `PostgreSQL at ${TEST_POSTGRES_URL}`).toBeNull();
    const migrated = await run(
      process.execPath,
      ['dist/cli/main.js', 'migrate', '--metadata', postgresUrlForTests(SCHEMA)],
      dir,
    );
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout).toMatch(/^applied 0001_models$/m);
  });
});

/** `kubectl kustomize` of one overlay, parsed. */
async function render(overlay: string): Promise<Record<string, any>[]> {
  const out = await run('kubectl', ['kustomize', join(ROOT, 'deploy/k8s/overlays', overlay)], ROOT);
  expect(out.code, `kubectl kustomize ${overlay}: ${out.stderr}`).toBe(0);
  return parseAllDocuments(out.stdout)
    .map((doc) => doc.toJS() as Record<string, any> | null)
    .filter((o): o is Record<string, any> => o !== null);
}

describe('deploy/k8s and the image', () => {
  const overlays = ['dev', 'staging', 'prod'];

  it('passes only configuration variables kiban reads, and its kiban.yaml loads with them', async () => {
    // Variables the CLI reads besides CONFIG_ENV: the flags' own (worker, scheduler, migrate,
    // stage bullmq-worker, and their --health-port), the AWS SDK's, Node's.
    const known = new Set([
      ...Object.keys(CONFIG_ENV),
      'KIBAN_METADATA_URL',
      'KIBAN_REDIS_URL',
      'KIBAN_HEALTH_PORT',
      'KIBAN_SLACK_WEBHOOK_URL',
      'KIBAN_DASHBOARD_URL',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_REGION',
      'NODE_OPTIONS',
    ]);
    for (const overlay of overlays) {
      const objects = await render(overlay);
      const configMaps = objects.filter((o) => o.kind === 'ConfigMap');
      const env: Record<string, string> = {};
      for (const object of objects) {
        const pod = object.spec?.template?.spec;
        for (const container of pod?.containers ?? []) {
          const names = (container.env ?? []).map((e: { name: string }) => e.name);
          for (const from of container.envFrom ?? []) {
            const map = configMaps.find((c) => c.metadata.name === from.configMapRef?.name);
            expect(map, `${overlay}: ConfigMap ${from.configMapRef?.name}`).toBeDefined();
            Object.assign(env, map?.data);
            names.push(...Object.keys(map?.data ?? {}));
          }
          for (const name of names)
            expect(known, `${overlay}: ${object.metadata.name} passes ${name}`).toContain(name);
        }
      }
      // The mounted kiban.yaml, overlaid by the ConfigMap's variables and stand-ins for the Secrets.
      const config = configMaps.find((c) => c.metadata.name.startsWith('kiban-config'));
      const dir = await mkdtemp(join(tmpdir(), 'kiban-k8s-config-'));
      try {
        const file = join(dir, 'kiban.yaml');
        await writeFile(file, config?.data['kiban.yaml'] ?? '');
        const loaded = await loadKibanConfig({
          file,
          env: {
            ...env,
            KIBAN_STORES_METADATA: 'postgres://kiban@db:5432/kiban',
            KIBAN_STORES_SERVING: 'redis://redis:6379',
            KIBAN_AUTH_PEPPER: 'a-pepper-of-32-characters-000000',
          },
        });
        expect(loaded.serve.host).toBe('0.0.0.0');
        expect(loaded.auth.mode).toBe('required');
        expect(loaded.stores.artifacts).toMatch(/^s3:\/\//);
        expect(loaded.stores.metadata).toBe('postgres://kiban@db:5432/kiban');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });

  it("names each overlay's migration Job after its image tag, so every release migrates first", async () => {
    for (const overlay of overlays) {
      const objects = await render(overlay);
      const images = new Set(
        objects.flatMap((o) =>
          (o.spec?.template?.spec?.containers ?? []).map((c: { image: string }) => c.image),
        ),
      );
      // One image, one tag, for every role.
      expect(images.size, `${overlay}: ${[...images].join(', ')}`).toBe(1);
      const tag = [...images][0].split(':').at(-1) ?? '';
      const jobs = objects.filter((o) => o.kind === 'Job');
      expect(jobs.map((j) => j.metadata.name)).toEqual([
        `kiban-migrate-${tag.replace(/[^a-z0-9]/gi, '-').toLowerCase()}`,
      ]);
      expect(jobs[0].spec.template.spec.containers[0].args[0]).toBe('migrate');
    }
  });
});
