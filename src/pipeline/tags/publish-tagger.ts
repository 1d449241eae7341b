import { join, resolve } from 'node:path';
import type { Tagger } from '../../models/tags/tagger.js';
import type { MetadataStore } from '../../storage/metadata-store.js';
import type { ServingStore } from '../../storage/serving-store.js';
import { idStamp, idSuffix } from '../steps/work-files.js';
import { writeTaggerFile } from '../../models/tags/tagger-file.js';
import { TAGGER_POINTER_KEY, type TaggerPointer } from '../../storage/tagger-pointer.js';

/**
 * Publishes a trained tagger: writes its file to `artifacts/<modelId>.tagger` (atomically),
 * records the model in the metadata store (kind `tagger`), then points the serving store's
 * {@link TAGGER_POINTER_KEY} at it in one write. Serving processes poll that key and swap the
 * new model in without dropping a request. Every call makes a new model id, so a retry after a
 * crash half-way never collides with what the failed attempt left (an unpublished file at most).
 */
export async function publishTagger(args: {
  tagger: Tagger;
  artifacts: string;
  serving: Pick<ServingStore, 'set'>;
  metadata: Pick<MetadataStore, 'insertModel'>;
  metrics?: Record<string, number>;
  /** What the tagger was trained on (file, examples, run id…), kept with the model record. */
  dataSnapshot?: Record<string, unknown>;
  quantise?: boolean;
}): Promise<TaggerPointer> {
  const { tagger } = args;
  const modelId = `tagger-${idStamp()}-${idSuffix()}`;
  const artifactPath = resolve(join(args.artifacts, `${modelId}.tagger`));
  const bytes = await writeTaggerFile(artifactPath, tagger, { quantise: args.quantise ?? false });
  const metrics = args.metrics ?? {};
  await args.metadata.insertModel({
    id: modelId,
    kind: 'tagger',
    params: { ...tagger.options, quantised: args.quantise ?? false },
    dataSnapshot: { ...args.dataSnapshot, labels: tagger.labels.length, bytes },
    metrics,
    artifactPath,
    createdAt: new Date(),
  });
  const pointer: TaggerPointer = {
    modelId,
    artifactPath,
    publishedAt: new Date().toISOString(),
    labels: tagger.labels.length,
    metrics,
  };
  await args.serving.set(TAGGER_POINTER_KEY, pointer);
  return pointer;
}
