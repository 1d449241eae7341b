import { Command } from 'commander';
import { access } from 'node:fs/promises';
import { isMap, YAMLMap } from 'yaml';
import { openServingStore } from '../app/backends.js';
import { loadKibanConfig } from '../app/config.js';
import { editKibanConfigFile } from '../app/edit-config-file.js';
import {
  DEFAULT_SERVICE_NAME,
  listServices,
  redactUrl,
  type ResolvedService,
} from '../app/services.js';
import { SERVICE_NAME } from '../auth/principal.js';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { table } from './workflow-console.js';

/** Where `kiban services create` writes when `--config` is not given. */
export const DEFAULT_SERVICES_CONFIG_FILE = 'kiban.yaml';

/**
 * `kiban services`: the services of a kiban.yaml (issue 22): `list` (name, route prefix, serving
 * store with credentials redacted, current version) and `create NAME` (adds an entry to
 * `services:`, keeping the file's comments and layout).
 */
export function servicesCommand(): Command {
  return new Command('services')
    .description(
      'Services: namespaces of one kiban, each with its own serving store, pipeline overrides, interactions ' +
        'and API keys (scope service:NAME), served at /v1/services/NAME/… (the default service at /v1/…).',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  kiban services create booth --config kiban.yaml --model itemknn\n  kiban services list --config kiban.yaml\n' +
        '  kiban pipeline run --config kiban.yaml --service booth\n  kiban keys create --name booth-app --scopes recs:read,events:write,service:booth\n',
    )
    .addCommand(listCommand())
    .addCommand(createCommand());
}

/** One row of `kiban services list --json`. */
interface ServiceRow {
  name: string;
  prefix: string;
  /** The serving store URL, credentials redacted. */
  serving: string;
  /** The published version readers see, or null (never published, or a memory: store). */
  version: string | null;
  publishedAt: string | null;
}

function listCommand(): Command {
  return new Command('list')
    .description(
      'List the services of a configuration: name, route prefix, serving store (credentials redacted) and the version published now.',
    )
    .option(
      '--config <file>',
      `configuration (YAML; default: ./${DEFAULT_SERVICES_CONFIG_FILE} when it exists, else the embedded one, which has only "default")`,
    )
    .option('--json', 'print the services as a JSON array')
    .action(async (options: { config?: string; json?: boolean }) => {
      const file =
        options.config ??
        ((await exists(DEFAULT_SERVICES_CONFIG_FILE)) ? DEFAULT_SERVICES_CONFIG_FILE : undefined);
      const config = await loadKibanConfig(file === undefined ? {} : { file });
      const rows: ServiceRow[] = [];
      for (const service of listServices(config)) rows.push(await describeService(service));
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify(rows)}\n`);
        return;
      }
      process.stdout.write(
        table([
          ['NAME', 'PREFIX', 'SERVING', 'VERSION', 'PUBLISHED'],
          ...rows.map((r) => [
            r.name,
            r.prefix,
            r.serving,
            r.version ?? '-',
            r.publishedAt ?? 'never',
          ]),
        ]),
      );
    });
}

/** A service's row; a SQLite store that does not exist yet is reported unpublished, not created. */
async function describeService(service: ResolvedService): Promise<ServiceRow> {
  const url = service.pipeline.stores.serving;
  const row: ServiceRow = {
    name: service.name,
    prefix: service.prefix,
    serving: redactUrl(url),
    version: null,
    publishedAt: null,
  };
  if (url === 'memory:' || url === 'sqlite::memory:') return row;
  if (url.startsWith('sqlite:') && !(await exists(url.slice('sqlite:'.length)))) return row;
  const field =
    service.name === DEFAULT_SERVICE_NAME
      ? 'stores.serving'
      : `services.${service.name}.stores.serving`;
  const store = await openServingStore(url, field);
  try {
    const current = await store.currentVersion();
    row.version = current?.version ?? null;
    row.publishedAt = current?.publishedAt ?? null;
  } finally {
    await store.close();
  }
  return row;
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function createCommand(): Command {
  return new Command('create')
    .description(
      `Add service NAME to the services: of a kiban.yaml (created if missing), keeping its comments. NAME: lower-case letters, digits and "-", starting with a letter, at most 32; not "default". ` +
        'The service takes every top-level pipeline key unless overridden; its serving store is derived from stores.serving.',
    )
    .argument('<name>', 'the service name, e.g. booth')
    .option('--config <file>', 'the kiban.yaml to change', DEFAULT_SERVICES_CONFIG_FILE)
    .option('--events <file>', "the service's event log (data.events), if not the shared one")
    .option('--model <kind>', "the service's model kind (model.kind), if not the shared one")
    .addHelpText(
      'after',
      '\nExample:\n  kiban services create booth --config kiban.yaml --events booth.csv --model itemknn\n' +
        '  # then: kiban pipeline run --config kiban.yaml --service booth\n',
    )
    .action(async (name: string, options: { config: string; events?: string; model?: string }) => {
      const overrides: Record<string, unknown> = {};
      if (options.events !== undefined) overrides.data = { events: options.events };
      if (options.model !== undefined) overrides.model = { kind: options.model };
      await addService(options.config, name, overrides);
      const config = await loadKibanConfig({ file: options.config });
      const service = listServices(config).find((s) => s.name === name);
      process.stdout.write(
        `added service ${name} to ${options.config}: routes ${service?.prefix}/…, serving store ${redactUrl(
          service?.pipeline.stores.serving ?? '',
        )}\n` +
          `next: kiban pipeline run --config ${options.config} --service ${name}; ` +
          `a key for it: kiban keys create --name ${name}-app --scopes recs:read,service:${name}\n`,
      );
    });
}

/**
 * Adds service `name` with `overrides` to the `services:` mapping of the YAML file `file` (made
 * when missing), keeping the rest of the file (comments included) as it was. The file is checked
 * by loading it afterwards; when that fails it is put back as it was and the error rethrown.
 * @throws InvalidArgumentError naming `name` when it is not a service name, is `default` or exists
 * @throws DataError naming the file when it is not YAML or its `services:` is not a mapping
 */
export async function addService(
  file: string,
  name: string,
  overrides: Record<string, unknown> = {},
): Promise<void> {
  if (name === DEFAULT_SERVICE_NAME)
    throw new InvalidArgumentError(
      'name',
      '"default" is reserved: the top-level keys of kiban.yaml configure the default service',
    );
  if (!SERVICE_NAME.test(name))
    throw new InvalidArgumentError(
      'name',
      `"${name}" is not a service name: lower-case letters, digits and "-", starting with a letter, at most 32`,
    );
  await editKibanConfigFile(file, (doc) => {
    let services = doc.get('services', true);
    if (services === undefined || services === null) {
      services = new YAMLMap();
      (services as YAMLMap).commentBefore =
        ' Services (kiban services create): each overrides pipeline keys of the top level.';
      doc.set('services', services);
    }
    if (!isMap(services))
      throw new DataError({ file }, 'its services: is not a mapping of service name to overrides');
    if (services.has(name))
      throw new InvalidArgumentError('name', `service "${name}" exists already in ${file}`);
    const entry = doc.createNode(overrides);
    // An entry with no overrides reads as {} (every default), not as null.
    if (Object.keys(overrides).length === 0) entry.flow = true;
    services.set(name, entry);
  });
}
