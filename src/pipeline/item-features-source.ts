/**
 * The item side features a pipeline's model trains with (`model.itemFeatures` of the pipeline
 * configuration): read from an item table file, or from a feature view of a feature repository
 * (each item's latest values, `features/view-item-features.ts`), for the items of the data the
 * model is fitted on.
 *
 * @module
 */
import type { IdMap } from '../data/id-map.js';
import { type ItemFeatures, readItemFeatures } from '../data/item-features.js';
import { loadFeatureRepository } from '../features/feature-definitions.js';
import { readViewItemFeatures } from '../features/view-item-features.js';
import type { PipelineConfig } from './pipeline-config.js';

/**
 * The item features `config.model.itemFeatures` names, for `items`; undefined when it names none.
 * Errors name the configuration key (`config.model.itemFeatures.view`, `….columns`).
 */
export async function readConfiguredItemFeatures(
  config: Pick<PipelineConfig, 'model'>,
  items: IdMap,
): Promise<ItemFeatures | undefined> {
  const source = config.model.itemFeatures;
  if (source === undefined) return undefined;
  if (source.view !== undefined)
    return readViewItemFeatures({
      repo: await loadFeatureRepository(source.repo!),
      view: source.view,
      items,
      ...(source.columns === undefined ? {} : { columns: source.columns }),
      fields: {
        view: 'config.model.itemFeatures.view',
        columns: 'config.model.itemFeatures.columns',
      },
    });
  return readItemFeatures(source.table!, source.columns!, items, {
    ...(source.id === undefined ? {} : { idColumn: source.id }),
  });
}
