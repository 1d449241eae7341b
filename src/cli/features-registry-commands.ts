import { userInfo } from 'node:os';
import { Command } from 'commander';
import { openMetadataStore } from '../app/backends.js';
import { loadKibanConfig, storeFields } from '../app/config.js';
import { loadFeatureRepository } from '../features/feature-definitions.js';
import type { FeatureRegistry, FeatureRegistryChange } from '../features/feature-registry.js';
import type { FeatureRepository } from '../features/feature-types.js';
import { flagOverlay } from './config-flags.js';

interface RegistryOptions {
  repo: string;
  config?: string;
  metadata?: string;
  json?: boolean;
}

/** `kiban features plan`: what `apply` would change in the registry. */
export function featuresPlanCommand(): Command {
  return withRegistryOptions(
    new Command('plan').description(
      'Compare the feature repository (DIR/features.yaml) with the registry in the metadata store and print what `apply` would record: objects added, changed (field by field), removed and unchanged. Writes nothing; exits 0 whatever it finds (3 when features.yaml is invalid, with every problem by line).',
    ),
  )
    .addHelpText(
      'after',
      '\nExample:\n  kiban features plan --repo examples/features\n  kiban features plan --repo examples/features --json --metadata postgres://kiban@db:5432/kiban\n',
    )
    .action(async (options: RegistryOptions, command: Command) => {
      const { repo, changes } = await withRegistry(command, options, async (registry, repo) => ({
        repo,
        changes: await registry.plan(repo),
      }));
      process.stdout.write(
        options.json === true ? jsonOf(repo, changes) : describePlan(repo, changes, 'plan'),
      );
    });
}

/** `kiban features apply`: records the repository's definitions in the registry. */
export function featuresApplyCommand(): Command {
  return withRegistryOptions(
    new Command('apply')
      .description(
        'Record the feature repository (DIR/features.yaml) in the registry of the metadata store: a new version of each entity, source, feature view and feature service that changed, a removal of each no longer defined. Applying the same repository again records nothing.',
      )
      .option('--applied-by <name>', 'who applies, kept with each version (default: the OS user)'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  kiban features plan --repo examples/features   # review\n  kiban features apply --repo examples/features  # record\n',
    )
    .action(async (options: RegistryOptions & { appliedBy?: string }, command: Command) => {
      const appliedBy = options.appliedBy ?? osUser();
      const { repo, changes } = await withRegistry(command, options, async (registry, repo) => ({
        repo,
        changes: await registry.apply(repo, { appliedBy }),
      }));
      process.stdout.write(
        options.json === true ? jsonOf(repo, changes) : describePlan(repo, changes, 'apply'),
      );
    });
}

function withRegistryOptions(command: Command): Command {
  return command
    .requiredOption(
      '--repo <dir>',
      'directory holding features.yaml (source paths are relative to it)',
    )
    .option(
      '--config <file>',
      'configuration naming the metadata store (default: the embedded one)',
    )
    .option('--metadata <url>', 'metadata store holding the registry: sqlite:PATH or postgres://…')
    .option(
      '--json',
      'print {"repo", "changes": [{kind, name, action, fromVersion, toVersion, fields, definition}]}',
    );
}

async function withRegistry<T>(
  command: Command,
  options: RegistryOptions,
  work: (registry: FeatureRegistry, repo: FeatureRepository) => Promise<T>,
): Promise<T> {
  // The repository first: an invalid one is reported without touching the store.
  const repo = await loadFeatureRepository(options.repo);
  const config = await loadKibanConfig({
    ...(options.config === undefined ? {} : { file: options.config }),
    flags: flagOverlay(command, { metadata: ['stores.metadata', '--metadata'] }),
  });
  const store = await openMetadataStore(config.stores.metadata, storeFields(config).metadata);
  try {
    return await work(store.featureRegistry, repo);
  } finally {
    await store.close();
  }
}

function osUser(): string {
  try {
    return userInfo().username || 'cli';
  } catch {
    return 'cli';
  }
}

function jsonOf(repo: FeatureRepository, changes: FeatureRegistryChange[]): string {
  return `${JSON.stringify({ repo: repo.root, changes })}\n`;
}

const SIGNS: Record<FeatureRegistryChange['action'], string> = {
  added: '+',
  changed: '~',
  removed: '-',
  unchanged: '=',
};

/** The human-readable plan (or what apply did): changed objects with their fields, then a count. */
function describePlan(
  repo: FeatureRepository,
  changes: FeatureRegistryChange[],
  mode: 'plan' | 'apply',
): string {
  const count = (action: FeatureRegistryChange['action']) =>
    changes.filter((c) => c.action === action).length;
  const [added, changed, removed, unchanged] = [
    count('added'),
    count('changed'),
    count('removed'),
    count('unchanged'),
  ];
  const lines: string[] = [];
  if (added + changed + removed === 0) {
    lines.push(
      `No changes: the registry matches ${repo.root} (${unchanged} object${unchanged === 1 ? '' : 's'}).`,
    );
    return `${lines.join('\n')}\n`;
  }
  lines.push(
    mode === 'plan'
      ? `Feature registry plan for ${repo.root}:`
      : `Applied ${repo.root} to the feature registry:`,
  );
  for (const c of changes) {
    if (c.action === 'unchanged') continue;
    const version =
      c.action === 'added'
        ? `v${c.toVersion}`
        : c.action === 'changed'
          ? `v${c.fromVersion} → v${c.toVersion}`
          : `was v${c.fromVersion}`;
    lines.push(`  ${SIGNS[c.action]} ${c.kind} ${c.name}  (${version})`);
    for (const f of c.fields) lines.push(`      ${f.field}: ${show(f.before)} → ${show(f.after)}`);
  }
  const verb = mode === 'plan' ? 'to ' : '';
  lines.push(
    `${mode === 'plan' ? 'Plan' : 'Applied'}: ${added} ${verb}add${mode === 'plan' ? '' : 'ed'}, ${changed} ${verb}change${mode === 'plan' ? '' : 'd'}, ${removed} ${verb}remove${mode === 'plan' ? '' : 'd'}, ${unchanged} unchanged.`,
  );
  if (mode === 'plan') lines.push(`Run \`kiban features apply --repo ${repo.root}\` to record it.`);
  return `${lines.join('\n')}\n`;
}

function show(value: unknown): string {
  return value === undefined ? '(none)' : JSON.stringify(value);
}
