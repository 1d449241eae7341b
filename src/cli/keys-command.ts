import { Command } from 'commander';
import { userInfo } from 'node:os';
import { loadAuthPepper } from '../app/auth-pepper.js';
import { loadKibanConfig, storeFields, type KibanConfig } from '../app/config.js';
import { openMetadataStore } from '../app/open-stores.js';
import {
  type ApiKeyRecord,
  createApiKey,
  DEFAULT_ROTATION_GRACE_MS,
  parseDuration,
  parseScopes,
  revokeApiKey,
  rotateApiKey,
} from '../auth/api-keys.js';
import { SCOPES } from '../auth/principal.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import { flagOverlay } from './config-flags.js';
import { table } from './workflow-console.js';

interface StoreOptions {
  config?: string;
}

/**
 * `kiban keys`: API keys in the metadata store of a configuration (`stores.metadata`, or
 * `--metadata`), hashed with its pepper (`auth.pepper`, `KIBAN_AUTH_PEPPER` or
 * `.kiban/auth-pepper`): `create` (prints the key once), `list`, `revoke`, `rotate`.
 */
export function keysCommand(): Command {
  return new Command('keys')
    .description(
      'API keys for the HTTP API: create (the key is printed once), list, revoke, rotate. ' +
        'Servers sharing the metadata store accept them; send one as Authorization: Bearer <key> or X-API-Key.',
    )
    .addCommand(createCommand())
    .addCommand(listCommand())
    .addCommand(revokeCommand())
    .addCommand(rotateCommand());
}

function withStoreOptions(command: Command): Command {
  return command
    .option(
      '--config <file>',
      'configuration naming the metadata store (default: the embedded one)',
    )
    .option('--metadata <url>', 'metadata store holding the keys: sqlite:PATH or postgres://…');
}

async function withKeys<T>(
  command: Command,
  options: StoreOptions,
  work: (store: MetadataStore, config: KibanConfig) => Promise<T>,
): Promise<T> {
  const config = await loadKibanConfig({
    ...(options.config === undefined ? {} : { file: options.config }),
    flags: flagOverlay(command, { metadata: ['stores.metadata', '--metadata'] }),
  });
  const store = await openMetadataStore(config.stores.metadata, storeFields(config).metadata);
  try {
    return await work(store, config);
  } finally {
    await store.close();
  }
}

function createdBy(): string {
  try {
    return userInfo().username || 'cli';
  } catch {
    return 'cli';
  }
}

function createCommand(): Command {
  return withStoreOptions(
    new Command('create')
      .description('Create an API key and print it once (it is not stored; only its HMAC is).')
      .requiredOption('--name <name>', 'who holds it, e.g. svc-pixiv')
      .requiredOption(
        '--scopes <list>',
        `comma-separated scopes: ${SCOPES.join(', ')}; and service:NAME (or service:*) for the routes of a service other than default`,
      )
      .option('--expires <duration>', 'lifetime, e.g. 90d, 12h (default: never expires)')
      .option(
        '--json',
        'print {"id", "name", "scopes", "expiresAt", "key"} (the key last) as JSON',
      ),
  )
    .addHelpText(
      'after',
      '\nExample:\n  kiban keys create --name svc-pixiv --scopes recs:read,events:write --expires 90d\n',
    )
    .action(
      async (
        options: StoreOptions & { name: string; scopes: string; expires?: string; json?: boolean },
        command: Command,
      ) => {
        const scopes = parseScopes('--scopes', options.scopes.split(','));
        const expiresAt =
          options.expires === undefined
            ? null
            : new Date(Date.now() + parseDuration('--expires', options.expires));
        const { key, record } = await withKeys(command, options, async (store, config) =>
          createApiKey(store.apiKeys, await loadAuthPepper(config), {
            name: options.name,
            scopes,
            createdBy: createdBy(),
            expiresAt,
          }),
        );
        process.stdout.write(
          options.json === true ? `${JSON.stringify(jsonOf(record, key))}\n` : created(record, key),
        );
      },
    );
}

function listCommand(): Command {
  return withStoreOptions(
    new Command('list')
      .description('List API keys (never their secrets), newest first.')
      .option('--json', 'print the records as JSON'),
  ).action(async (options: StoreOptions & { json?: boolean }, command: Command) => {
    const keys = await withKeys(command, options, (store) => store.apiKeys.list());
    if (options.json === true) {
      process.stdout.write(`${JSON.stringify(keys.map(({ hash: _hash, ...rest }) => rest))}\n`);
      return;
    }
    if (keys.length === 0) {
      process.stdout.write(
        'no API keys; create one with kiban keys create --name NAME --scopes LIST\n',
      );
      return;
    }
    const now = Date.now();
    process.stdout.write(
      table([
        ['ID', 'NAME', 'KEY', 'SCOPES', 'STATUS', 'EXPIRES', 'LAST USED', 'CREATED', 'BY'],
        ...keys.map((k) => [
          k.id,
          k.name,
          `kbn_${k.prefix}_…`,
          k.scopes.join(','),
          status(k, now),
          k.expiresAt?.toISOString() ?? 'never',
          k.lastUsedAt?.toISOString() ?? 'never',
          k.createdAt.toISOString(),
          k.createdBy,
        ]),
      ]),
    );
  });
}

function revokeCommand(): Command {
  return withStoreOptions(
    new Command('revoke')
      .description(
        'Revoke an API key: servers refuse it within their key cache time (auth.keyCacheTtlMs, 10 s by default).',
      )
      .argument('<id>', 'the key id (kiban keys list)'),
  ).action(async (id: string, options: StoreOptions, command: Command) => {
    await withKeys(command, options, (store) => revokeApiKey(store.apiKeys, id));
    process.stdout.write(`revoked ${id}\n`);
  });
}

function rotateCommand(): Command {
  return withStoreOptions(
    new Command('rotate')
      .description(
        'Create a new key with the same name and scopes and print it once; the old key keeps working for --grace, then expires.',
      )
      .argument('<id>', 'the key id (kiban keys list)')
      .option(
        '--grace <duration>',
        'how long the old key keeps working, e.g. 24h, 30m, 0s (default 24h)',
      )
      .option('--json', 'print the new key as JSON, like create'),
  ).action(
    async (
      id: string,
      options: StoreOptions & { grace?: string; json?: boolean },
      command: Command,
    ) => {
      const graceMs =
        options.grace === undefined
          ? DEFAULT_ROTATION_GRACE_MS
          : parseDuration('--grace', options.grace);
      const rotated = await withKeys(command, options, async (store, config) =>
        rotateApiKey(store.apiKeys, await loadAuthPepper(config), id, {
          graceMs,
          createdBy: createdBy(),
        }),
      );
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify(jsonOf(rotated.record, rotated.key))}\n`);
        return;
      }
      process.stdout.write(
        `${created(rotated.record, rotated.key)}the old key ${id} works until ${rotated.previous.expiresAt?.toISOString()}\n`,
      );
    },
  );
}

function jsonOf(record: ApiKeyRecord, key: string) {
  return {
    id: record.id,
    name: record.name,
    scopes: record.scopes,
    expiresAt: record.expiresAt?.toISOString() ?? null,
    key,
  };
}

function created(record: ApiKeyRecord, key: string): string {
  const expires =
    record.expiresAt === null ? 'never expires' : `expires ${record.expiresAt.toISOString()}`;
  return (
    `created API key ${record.id} "${record.name}" with scopes ${record.scopes.join(', ')}; ${expires}\n\n` +
    `  ${key}\n\n` +
    'This is the only time the key is shown: store it now. Send it as Authorization: Bearer <key> or X-API-Key: <key>.\n'
  );
}

function status(key: ApiKeyRecord, now: number): string {
  if (key.revokedAt !== null) return 'revoked';
  if (key.expiresAt !== null && key.expiresAt.getTime() <= now) return 'expired';
  return 'active';
}
