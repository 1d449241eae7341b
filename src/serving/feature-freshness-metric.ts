import { Gauge, type Registry } from 'prom-client';
import type { OnlineFeatureStore } from '../features/online-store.js';

/** Options of {@link registerFeatureFreshness}. */
export interface FeatureFreshnessOptions {
  /** The clock, epoch ms. @defaultValue `Date.now` */
  now?: () => number;
}

/**
 * Adds `kiban_feature_view_freshness_seconds{view}` to `registry`: for each view of `online`
 * that has been materialised (see `features/materialize.ts`), now − the newest event time
 * written to it, in seconds, read from the views' marks at each scrape (one store read). A view
 * never materialised, or whose windows held no rows, has no sample.
 *
 * @example
 * const registry = instrumentRequests(app);
 * registerFeatureFreshness(registry, onlineStore);
 */
export function registerFeatureFreshness(
  registry: Registry,
  online: Pick<OnlineFeatureStore, 'listMaterialized'>,
  options: FeatureFreshnessOptions = {},
): Gauge<'view'> {
  const now = options.now ?? Date.now;
  return new Gauge({
    name: 'kiban_feature_view_freshness_seconds',
    help: 'Seconds since the newest event time materialised to the online store, by feature view.',
    labelNames: ['view'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const marks = await online.listMaterialized();
      const at = now();
      for (const [view, mark] of marks)
        if (mark.newestEventTime !== null)
          this.set({ view }, Math.max(0, (at - mark.newestEventTime) / 1000));
    },
  });
}
