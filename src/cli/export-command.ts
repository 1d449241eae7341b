import { userInfo } from 'node:os';
import { Command } from 'commander';
import { loadKibanConfig } from '../app/config.js';
import { planExportFile, runExportFile, withPrivacyLedger } from '../app/export-runner.js';
import type { AggregatesPlan } from '../privacy/aggregates-release.js';
import type { ExportPlan } from '../privacy/export-release.js';
import type { PrivacyTotals } from '../privacy/privacy-ledger.js';
import { generatePseudonymKey } from '../privacy/pseudonyms.js';
import type { RecordsPlan } from '../privacy/records-release.js';
import { flagOverlay } from './config-flags.js';
import { table } from './workflow-console.js';

interface StoreCliOptions {
  config?: string;
  metadata?: string;
  artifacts?: string;
  json?: boolean;
}

/**
 * `kiban export`: privacy-aware extracts for other teams. `plan POLICY` shows what a release
 * would be (schema out, generalisation and suppression, or noise, threshold and budget) without
 * spending or storing anything; `run POLICY` releases it through the artifact store and the
 * privacy-budget ledger; `log` lists releases; `keygen` makes a pseudonym key.
 */
export function exportCommand(): Command {
  return new Command('export')
    .description(
      'Privacy-aware data export: k-anonymous records or differentially private aggregates, from a policy file; every release accounted in the privacy-budget ledger.',
    )
    .addCommand(planCommand())
    .addCommand(runCommand())
    .addCommand(logCommand())
    .addCommand(keygenCommand());
}

function withStoreOptions(command: Command): Command {
  return command
    .option('--config <file>', 'configuration naming the stores (default: the embedded ones)')
    .option('--metadata <url>', 'metadata store holding the privacy-budget ledger')
    .option('--json', 'print the result as JSON on one line');
}

async function configOf(command: Command, options: StoreCliOptions) {
  return loadKibanConfig({
    ...(options.config === undefined ? {} : { file: options.config }),
    flags: flagOverlay(command, {
      metadata: ['stores.metadata', '--metadata'],
      artifacts: ['stores.artifacts', '--artifacts'],
    }),
  });
}

const stderr = (line: string) => process.stderr.write(`${line}\n`);

function planCommand(): Command {
  return withStoreOptions(
    new Command('plan')
      .description(
        'Show what `run` would release: the columns out, the generalisation chosen and rows suppressed (records), or the noise, expected error, threshold and budget spent (aggregates). Spends and stores nothing.',
      )
      .argument('<policy>', 'export policy file (YAML)'),
  )
    .addHelpText('after', '\nExample:\n  kiban export plan examples/exports/obd-users.yaml\n')
    .action(async function (this: Command, file: string, options: StoreCliOptions) {
      const config = await configOf(this, options);
      const planned = await planExportFile(file, { config, log: stderr });
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify(planJson(planned))}\n`);
        return;
      }
      process.stdout.write(planText(planned));
    });
}

function runCommand(): Command {
  return withStoreOptions(
    new Command('run')
      .description(
        'Release the export: checks the budget, writes CSV or Parquet and a .privacy.json sidecar to the artifact store under exports/DATASET/RECIPIENT/POLICY/RELEASE/, and records the release in the ledger.',
      )
      .argument('<policy>', 'export policy file (YAML)')
      .option(
        '--release-id <id>',
        'the release id; running again with the same id spends nothing more and stores nothing new (default: POLICY-TIME-RANDOM)',
      )
      .option(
        '--artifacts <url>',
        'artifact store the files go to, file:DIR or s3://BUCKET/PREFIX',
      ),
  )
    .addHelpText('after', '\nExample:\n  kiban export run examples/exports/obd-users.yaml\n')
    .action(async function (
      this: Command,
      file: string,
      options: StoreCliOptions & { releaseId?: string },
    ) {
      const config = await configOf(this, options);
      const done = await runExportFile(file, {
        config,
        actor: userInfo().username || 'cli',
        ...(options.releaseId === undefined ? {} : { releaseId: options.releaseId }),
        log: stderr,
      });
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify(done)}\n`);
        return;
      }
      process.stdout.write(
        `${done.existing ? 'already released' : 'released'} ${done.release.id}\n` +
          `data     ${done.dataKey} (${Number.isNaN(done.rows) ? '?' : done.rows} rows)\n` +
          `sidecar  ${done.sidecarKey}\n` +
          `budget   ${totalsText(done.totals)}\n`,
      );
    });
}

function logCommand(): Command {
  return withStoreOptions(
    new Command('log')
      .description('Releases in the ledger, newest first, with what each spent.')
      .option('--dataset <name>', 'only this dataset')
      .option('--recipient <name>', 'only this recipient')
      .option('--limit <n>', 'at most this many (default 100)', (v) => Number.parseInt(v, 10)),
  ).action(async function (
    this: Command,
    options: StoreCliOptions & { dataset?: string; recipient?: string; limit?: number },
  ) {
    const config = await configOf(this, options);
    const releases = await withPrivacyLedger(config, (ledger) =>
      ledger.list({
        ...(options.dataset === undefined ? {} : { dataset: options.dataset }),
        ...(options.recipient === undefined ? {} : { recipient: options.recipient }),
        ...(options.limit === undefined ? {} : { limit: options.limit }),
      }),
    );
    if (options.json === true) {
      process.stdout.write(`${JSON.stringify(releases)}\n`);
      return;
    }
    if (releases.length === 0) {
      process.stdout.write('no releases\n');
      return;
    }
    process.stdout.write(
      table([
        ['RELEASE', 'DATASET', 'RECIPIENT', 'MECHANISM', 'SPENT', 'STATUS', 'BY', 'AT'],
        ...releases.map((r) => [
          r.id,
          r.dataset,
          r.recipient,
          r.mechanism,
          spendText(r.spend),
          r.status,
          r.actor,
          r.createdAt.toISOString(),
        ]),
      ]),
    );
  });
}

function keygenCommand(): Command {
  return new Command('keygen')
    .description(
      'Print a new random pseudonym key (32 bytes, base64url). Store it as a secret (an environment variable or a mounted file) and name it in the policy as pseudonyms.key: env:NAME or file:PATH; rotating it changes every pseudonym.',
    )
    .action(() => {
      process.stdout.write(`${generatePseudonymKey()}\n`);
    });
}

function spendText(spend: { epsilon?: number; rho?: number; delta?: number }): string {
  const parts = [
    spend.epsilon === undefined ? '' : `ε ${spend.epsilon}`,
    spend.rho === undefined ? '' : `ρ ${spend.rho}`,
    spend.delta === undefined ? '' : `δ ${spend.delta.toExponential(1)}`,
  ].filter((p) => p !== '');
  return parts.length === 0 ? '-' : parts.join(', ');
}

function totalsText(t: PrivacyTotals): string {
  return `${t.releases} releases; ε ${round(t.epsilon)}, ρ ${round(t.rho)} (ρ with pure releases ${round(t.rhoEquivalent)}), δ ${t.delta.toExponential(1)}`;
}

const round = (x: number) => Number.parseFloat(x.toPrecision(4)).toString();
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

function planJson(p: ExportPlan): Record<string, unknown> {
  const detail =
    p.detail.mode === 'records'
      ? {
          ...p.detail,
          quasiIdentifiers: p.detail.quasiIdentifiers.map((q) => ({
            column: q.column,
            level: q.level,
            levelName: q.levelName,
          })),
          solution: { ...p.detail.solution, suppressedTuples: undefined },
        }
      : {
          ...p.detail,
          quantities: p.detail.quantities.map((q) => ({
            ...q,
            mechanism: {
              ...q.mechanism,
              parameter: `${q.mechanism.parameter.num}/${q.mechanism.parameter.den}`,
            },
          })),
        };
  return {
    policy: p.policy.name,
    dataset: p.policy.dataset,
    recipient: p.policy.recipient,
    schema: p.schema,
    sourceRows: p.sourceRows,
    detail,
    spent: p.spent,
    budget: p.policy.budget ?? null,
  };
}

function planText(p: ExportPlan): string {
  const head =
    `policy     ${p.policy.name}: ${p.policy.dataset} → ${p.policy.recipient}\n` +
    `source     ${p.sourceRows} rows\n\ncolumns out\n${table([['NAME', 'TYPE', 'FROM'], ...p.schema.map((c) => [c.name, c.type, c.from])])}\n`;
  return head + (p.detail.mode === 'records' ? recordsText(p.detail) : aggregatesText(p, p.detail));
}

function recordsText(d: RecordsPlan): string {
  const s = d.solution;
  return (
    `k-anonymity k = ${d.k}${d.l === undefined ? '' : `, distinct l-diversity l = ${d.l} on ${d.sensitive}`}\n` +
    table([
      ['QUASI-IDENTIFIER', 'LEVEL', 'GENERALISATION'],
      ...d.quasiIdentifiers.map((q) => [q.column, String(q.level), q.levelName]),
    ]) +
    `suppressed ${s.suppressedRows} of ${s.rows} rows (${pct(s.suppression)}; bound ${pct(d.maxSuppression)})\n` +
    `classes    ${s.classes} (smallest ${s.smallestClass}, mean ${s.averageClassSize.toFixed(1)} rows)\n` +
    `loss       ${s.loss.toFixed(4)} (loss metric, 0 = as is, 1 = all suppressed)\n` +
    `lattice    ${s.nodesEvaluated} of ${s.latticeSize} nodes evaluated\n` +
    'budget     none spent (k-anonymity is not differential privacy)\n'
  );
}

function aggregatesText(p: ExportPlan, d: AggregatesPlan): string {
  const b = p.policy.budget ?? {};
  const after: PrivacyTotals = {
    ...p.spent,
    epsilon: p.spent.epsilon + (d.spend.epsilon ?? 0),
    rho: p.spent.rho + (d.spend.rho ?? 0),
    rhoEquivalent: p.spent.rhoEquivalent + (d.spend.rho ?? (d.spend.epsilon ?? 0) ** 2 / 2),
    delta: p.spent.delta + (d.spend.delta ?? 0),
    releases: p.spent.releases + 1,
  };
  const cap = [
    b.epsilon === undefined ? '' : `ε ${b.epsilon}`,
    b.rho === undefined ? '' : `ρ ${b.rho}`,
    b.delta === undefined ? '' : `δ ${b.delta}`,
  ].filter((x) => x !== '');
  return (
    `privacy unit ${d.release.privacyUnit.join(' × ')}: at most ${d.release.maxGroupsPerUnit} groups, ${d.release.maxRowsPerGroup} rows per group\n` +
    `rows       ${d.rows} (${d.nullUnitRows} without a privacy unit and ${d.boundedAwayRows} over the contribution bounds left out)\n` +
    `cells      ${d.cells} candidates; ${d.threshold === null ? 'every public key released' : `released when the noisy count ≥ ${d.threshold}`}${d.delta > 0 ? ` (δ = ${d.delta.toExponential(2)})` : ''}\n\n` +
    table([
      ['QUANTITY', 'NOISE', 'SPENDS', 'STD DEV', '95% ERROR ±'],
      ...d.quantities.map((q) => [
        q.name,
        q.mechanism.kind,
        spendText(q.mechanism.spend),
        q.mechanism.standardDeviation.toFixed(2),
        String(q.error95),
      ]),
    ]) +
    `\nbudget     spends ${spendText(d.spend)}\n` +
    `           spent before: ${totalsText(p.spent)}\n` +
    `           after:        ${totalsText(after)}\n` +
    `           cap:          ${cap.length === 0 ? 'none' : cap.join(', ')}\n`
  );
}
