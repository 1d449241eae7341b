import { access } from 'node:fs/promises';
import { Command } from 'commander';
import { openServingStore } from '../app/backends.js';
import { type KibanConfig, loadKibanConfig, storeFields } from '../app/config.js';
import { DEFAULT_SERVICE_NAME, findService } from '../app/services.js';
import { NotFoundError } from '../core/errors.js';
import type { HeldVersionInfo, ServingStore } from '../storage/serving-store.js';
import { flagOverlay } from './config-flags.js';
import { table } from './workflow-console.js';

interface StoreOptions {
  config?: string;
  serving?: string;
  service?: string;
  json?: boolean;
}

/**
 * `kiban models`: the published versions the serving store of a configuration holds (`list`,
 * `show VERSION`) and `rollback VERSION`, which makes a held version current again in one atomic
 * switch (every `kiban serve` process on that store answers from it on its next request). The
 * same as `GET /v1/models/versions` and `POST /v1/models/rollback` (`--service NAME`: the
 * service's store, as `…/v1/services/NAME/models/…`).
 */
export function modelsCommand(): Command {
  return new Command('models')
    .description(
      'Published model versions in the serving store: list, show VERSION, rollback VERSION (atomic; servers switch on their next request).',
    )
    .addCommand(listCommand())
    .addCommand(showCommand())
    .addCommand(rollbackCommand());
}

function withStoreOptions(command: Command): Command {
  return command
    .option('--config <file>', 'configuration naming the serving store (default: the embedded one)')
    .option('--serving <url>', 'serving store: sqlite:PATH or redis://HOST:PORT')
    .option(
      '--service <name>',
      'the service whose serving store to use (services: of the configuration; derived from stores.serving unless it names its own)',
      DEFAULT_SERVICE_NAME,
    )
    .option('--json', 'print the result as JSON on one line');
}

/**
 * Runs `work` on the serving store of the configuration; a SQLite file that does not exist is not
 * created, and `work` gets null (nothing is published there).
 */
async function withServing<T>(
  command: Command,
  options: StoreOptions,
  work: (store: ServingStore | null) => Promise<T>,
): Promise<T> {
  const config: KibanConfig = await loadKibanConfig({
    ...(options.config === undefined ? {} : { file: options.config }),
    flags: flagOverlay(command, { serving: ['stores.serving', '--serving'] }),
  });
  const service = options.service ?? DEFAULT_SERVICE_NAME;
  const url = findService(config, service).pipeline.stores.serving;
  const field =
    service === DEFAULT_SERVICE_NAME
      ? storeFields(config).serving
      : `services.${service}.stores.serving`;
  if (url.startsWith('sqlite:') && url !== 'sqlite::memory:') {
    const path = url.slice('sqlite:'.length);
    const found = await access(path).then(
      () => true,
      () => false,
    );
    if (!found) return work(null);
  }
  const store = await openServingStore(url, field);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** `meta.metrics` as `name value, …` (numbers to 4 decimals), or `-`. */
function metricsText(meta: Record<string, unknown>): string {
  const metrics = meta.metrics;
  if (metrics === null || typeof metrics !== 'object') return '-';
  const parts = Object.entries(metrics as Record<string, unknown>).map(
    ([name, value]) =>
      `${name} ${typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(4) : String(value)}`,
  );
  return parts.length === 0 ? '-' : parts.join(', ');
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '-');

function listCommand(): Command {
  return withStoreOptions(
    new Command('list').description(
      'The versions the serving store holds, newest published first; * marks the one served now.',
    ),
  ).action(async function (this: Command, options: StoreOptions) {
    const versions = await withServing(this, options, async (store) =>
      store === null ? [] : store.listVersions(),
    );
    if (options.json === true) {
      process.stdout.write(`${JSON.stringify(versions)}\n`);
      return;
    }
    if (versions.length === 0) {
      process.stdout.write('no published versions\n');
      return;
    }
    process.stdout.write(
      table([
        ['', 'VERSION', 'MODEL', 'KIND', 'METRICS', 'PUBLISHED'],
        ...versions.map((v) => [
          v.current ? '*' : '',
          v.version,
          text(v.meta.modelId),
          text(v.meta.kind),
          metricsText(v.meta),
          v.publishedAt,
        ]),
      ]),
    );
  });
}

function showCommand(): Command {
  return withStoreOptions(
    new Command('show')
      .description('One held version: when it was published, whether it is served, its meta.')
      .argument('<version>', 'the version, as `kiban models list` names it'),
  ).action(async function (this: Command, version: string, options: StoreOptions) {
    const found: HeldVersionInfo | undefined = await withServing(this, options, async (store) =>
      store === null ? undefined : (await store.listVersions()).find((v) => v.version === version),
    );
    if (found === undefined) throw new NotFoundError(`version ${version} of the serving store`);
    if (options.json === true) {
      process.stdout.write(`${JSON.stringify(found)}\n`);
      return;
    }
    process.stdout.write(
      `version    ${found.version}${found.current ? ' (current)' : ''}\n` +
        `published  ${found.publishedAt}\n` +
        `model      ${text(found.meta.modelId)}\n` +
        `kind       ${text(found.meta.kind)}\n` +
        `metrics    ${metricsText(found.meta)}\n` +
        `meta       ${JSON.stringify(found.meta, null, 2).replaceAll('\n', '\n           ')}\n`,
    );
  });
}

function rollbackCommand(): Command {
  return withStoreOptions(
    new Command('rollback')
      .description(
        'Make a held version current again, atomically: servers on this store answer from it on their next request. ' +
          'Roll forward the same way. The next publish still works and keeps this version as the one it replaced.',
      )
      .argument('<version>', 'the version to serve, as `kiban models list` names it'),
  ).action(async function (this: Command, version: string, options: StoreOptions) {
    const result = await withServing(this, options, async (store) => {
      if (store === null) throw new NotFoundError(`version ${version} of the serving store`);
      return store.rollback(version);
    });
    if (options.json === true) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    process.stdout.write(
      result.from === result.to
        ? `${result.to} is already current\n`
        : `rolled back: ${result.from ?? '(none)'} → ${result.to}\n`,
    );
  });
}
