import type { z } from 'zod';
import { DEFAULT_TAGGER_OPTIONS, type TaggerOptions } from '../models/tags/tagger.js';
import { stepConfig } from '../pipeline/steps/step-config.js';
import { parseTaskParams, type tagsParamsSchema } from '../pipeline/task-params.js';
import { publishTagger } from '../pipeline/tags/publish-tagger.js';
import { trainTagger } from '../pipeline/tags/train-tagger.js';
import type { TaskContext, TaskJob } from '../workflow/executor.js';
import { openArtifactStore } from './open-artifact-store.js';
import { openMetadataStore, openServingStore } from './open-stores.js';

/** Tagger options, each also a task parameter. */
const TAGGER_OPTION_KEYS = Object.keys(DEFAULT_TAGGER_OPTIONS);

/**
 * Runs a workflow task of `kind: tags`: trains the text tagger on `params.input`, measures it on
 * `params.valid`, refuses to publish it below `params.minPrecision`, then (unless `publish:
 * false`) publishes it, so that `/v1/tags/suggest` switches to it:
 *
 * ```yaml
 * tagger:
 *   kind: tags
 *   params: { input: data/posts.txt, valid: data/posts-valid.txt, lr: 1, epoch: 25, wordNgrams: 2, minPrecision: 0.5 }
 * ```
 *
 * Every tagger option (`dim`, `epoch`, `lr`, `wordNgrams`, `loss`, `threads`, …) is a parameter
 * too; `config` (a kiban.yaml) and `stores` name the stores as for the pipeline steps. Relative
 * paths resolve against the working directory. The task's output holds the model id and figures.
 * With `stores.artifacts` an artifact store URL the model is stored there under
 * `models/<modelId>/model.tagger` (the output's `artifactKey`), so servers on other hosts load it.
 * Unless `stores.metadata` is given, the model is recorded in the metadata store at `metadataUrl`
 * (the engine's or worker's); without it, in the configuration's.
 */
export async function runTagsTask(
  job: TaskJob,
  ctx: TaskContext,
  metadataUrl?: string,
): Promise<Record<string, unknown>> {
  // The schema `kiban workflow validate` checks too: unknown keys and bad values fail here, by name.
  const p = parseTaskParams('tags', job.params) as z.output<typeof tagsParamsSchema> &
    Record<string, unknown>;
  const options: Record<string, unknown> = {};
  for (const key of TAGGER_OPTION_KEYS) if (p[key] !== undefined) options[key] = p[key];
  const stores = (p.stores ?? {}) as Record<string, unknown>;
  const config = await stepConfig(
    'publish',
    {
      ...(p.config === undefined ? {} : { config: p.config }),
      stores:
        metadataUrl !== undefined &&
        typeof stores === 'object' &&
        stores !== null &&
        stores.metadata === undefined
          ? { ...stores, metadata: metadataUrl }
          : stores,
    },
    job.baseDir,
  );
  const trained = await trainTagger({
    input: p.input,
    ...(p.valid === undefined ? {} : { valid: p.valid }),
    options: options as Partial<TaggerOptions>,
    ...(p.k === undefined ? {} : { k: p.k }),
    ...(p.threshold === undefined ? {} : { threshold: p.threshold }),
    ...(p.minPrecision === undefined ? {} : { minPrecision: p.minPrecision }),
    signal: ctx.signal,
    log: ctx.log,
  });
  const output: Record<string, unknown> = {
    tags: trained.tagger.labels.length,
    examples: trained.trainExamples,
    trainSeconds: trained.trainSeconds,
    ...trained.metrics,
  };
  if (p.publish === false) return output;
  const serving = await openServingStore(config.stores.serving);
  try {
    const metadata = await openMetadataStore(config.stores.metadata);
    try {
      const pointer = await publishTagger({
        tagger: trained.tagger,
        artifacts: config.stores.artifacts,
        openArtifacts: (url) => openArtifactStore(url),
        serving,
        metadata,
        metrics: trained.metrics,
        dataSnapshot: {
          input: p.input,
          runId: job.runId,
          ...(p.valid === undefined ? {} : { valid: p.valid }),
        },
        quantise: p.quantise === true,
        signal: ctx.signal,
      });
      ctx.log(`tags: published ${pointer.modelId} → ${pointer.artifactPath}`);
      return {
        ...output,
        modelId: pointer.modelId,
        artifactPath: pointer.artifactPath,
        ...(pointer.artifactKey === undefined ? {} : { artifactKey: pointer.artifactKey }),
      };
    } finally {
      await metadata.close();
    }
  } finally {
    await serving.close();
  }
}
