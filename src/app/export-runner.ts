/**
 * The composition of an export: the policy file, the configuration's metadata store (the privacy
 * ledger) and artifact store, opened for one plan or run and closed after. Used by `kiban export`
 * and the `export` workflow task.
 */
import {
  type ExportPlan,
  type ExportResult,
  planExport,
  runExport,
} from '../privacy/export-release.js';
import { readExportPolicy } from '../privacy/export-policy.js';
import type { PrivacyLedger } from '../privacy/privacy-ledger.js';
import { openBackends } from './backends.js';
import { type KibanConfig, storeFields } from './config.js';

/** What {@link planExportFile} and {@link runExportFile} need besides the policy. */
export interface ExportFileOptions {
  /** The configuration naming `stores.metadata` (the ledger) and `stores.artifacts` (the output). */
  config: KibanConfig;
  /** Base of the policy's relative paths. @defaultValue the working directory */
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/** Plans the export a policy file describes (nothing spent, nothing stored). */
export async function planExportFile(
  file: string,
  options: ExportFileOptions,
): Promise<ExportPlan> {
  const policy = await readExportPolicy(file, options.baseDir);
  const backends = await openBackends(options.config.stores, {
    seams: ['metadata'],
    fields: storeFields(options.config),
  });
  try {
    return await planExport(policy, {
      ledger: backends.metadata.privacyLedger,
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.log === undefined ? {} : { log: options.log }),
    });
  } finally {
    await backends.close();
  }
}

/** Runs the export a policy file describes; see `runExport`. */
export async function runExportFile(
  file: string,
  options: ExportFileOptions & { actor: string; releaseId?: string; signal?: AbortSignal },
): Promise<ExportResult> {
  const policy = await readExportPolicy(file, options.baseDir);
  const backends = await openBackends(options.config.stores, {
    seams: ['metadata', 'artifacts'],
    fields: storeFields(options.config),
  });
  try {
    return await runExport(policy, {
      ledger: backends.metadata.privacyLedger,
      artifacts: backends.artifacts,
      actor: options.actor,
      ...(options.releaseId === undefined ? {} : { releaseId: options.releaseId }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.log === undefined ? {} : { log: options.log }),
    });
  } finally {
    await backends.close();
  }
}

/** Runs `work` with the configuration's privacy ledger (for `kiban export log`). */
export async function withPrivacyLedger<T>(
  config: KibanConfig,
  work: (ledger: PrivacyLedger) => Promise<T>,
): Promise<T> {
  const backends = await openBackends(config.stores, {
    seams: ['metadata'],
    fields: storeFields(config),
  });
  try {
    return await work(backends.metadata.privacyLedger);
  } finally {
    await backends.close();
  }
}
