/**
 * Materialisation by directory and URL (issue 20): the composition root's wrapper of the feature
 * library's `materialize`, choosing the online store's backend from its URL.
 */
import { loadFeatureRepository } from '../features/feature-definitions.js';
import {
  materialize,
  type MaterializeOptions,
  type MaterializeResult,
} from '../features/materialize.js';
import { DuckDBOfflineFeatureStore } from '../features/offline-store.js';
import { openOnlineFeatureStore } from './open-online-store.js';

/** Options of {@link materializeRepository}: {@link MaterializeOptions} by directory and URL. */
export interface MaterializeRepositoryOptions
  extends Omit<MaterializeOptions, 'repo' | 'offline' | 'online'> {
  /** The feature repository: a directory holding `features.yaml`. */
  repoDir: string;
  /** The online store URL (see {@link openOnlineFeatureStore}). */
  online: string;
  /** The field the URL came from, for errors. @defaultValue `'--online'` */
  onlineField?: string;
  /** DuckDB threads of the offline store. @defaultValue DuckDB's */
  threads?: number;
}

/**
 * {@link materialize} with the stores opened from a repository directory and an online store
 * URL, and closed after: what `kiban features materialize` and the `materialize` task run.
 */
export async function materializeRepository(
  options: MaterializeRepositoryOptions,
): Promise<MaterializeResult> {
  const { repoDir, online: url, onlineField, threads, ...rest } = options;
  const repo = await loadFeatureRepository(repoDir);
  const online = await openOnlineFeatureStore(url, onlineField);
  const offline = new DuckDBOfflineFeatureStore(threads === undefined ? {} : { threads });
  try {
    return await materialize({ ...rest, repo, offline, online });
  } finally {
    await offline.close();
    await online.close();
  }
}
