import { join, resolve } from 'node:path';
import { InvalidArgumentError } from '../../core/errors.js';
import { writeTaggerFile } from '../../models/tags/tagger-file.js';
import type { Tagger } from '../../models/tags/tagger.js';
import type { ArtifactStore } from '../../storage/artifacts/artifact-store.js';
import type { MetadataStore } from '../../storage/metadata-store.js';
import type { ServingStore } from '../../storage/serving-store.js';
import { TAGGER_POINTER_KEY, type TaggerPointer } from '../../storage/tagger-pointer.js';
import { isArtifactStoreUrl } from '../../storage/artifacts/artifact-store.js';
import { idStamp, idSuffix } from '../steps/work-files.js';

/** The key of a published tagger's file in an artifact store: beside a recommender's files, under `models/<modelId>/`. */
export function taggerArtifactKey(modelId: string): string {
  return `models/${modelId}/model.tagger`;
}

/**
 * Publishes a trained tagger: stores its file, records the model in the metadata store (kind
 * `tagger`), then points the serving store's {@link TAGGER_POINTER_KEY} at it in one write.
 * Serving processes poll that key and swap the new model in without dropping a request.
 *
 * Where the file goes depends on `artifacts` (`stores.artifacts`):
 * - an artifact store URL (`file:DIR`, `s3://…`): under the key {@link taggerArtifactKey}
 *   (`models/<modelId>/model.tagger`) of the store `openArtifacts` opens, in one atomic put; the
 *   model record's `artifactPath` and the pointer's `artifactKey` hold the key, so a server on any
 *   host loads it from its artifact store;
 * - a plain directory: `artifacts/<modelId>.tagger` (absolute, written atomically), as before.
 *
 * Every call makes a new model id, so a retry after a crash half-way never collides with what the
 * failed attempt left (an unpublished file at most).
 *
 * @throws InvalidArgumentError naming `openArtifacts` when `artifacts` is a store URL and no opener was given.
 */
export async function publishTagger(args: {
  tagger: Tagger;
  /** `stores.artifacts`: an artifact store URL or a plain directory. */
  artifacts: string;
  /** Opens the artifact store a URL names (needed when `artifacts` is one). */
  openArtifacts?: (url: string) => Promise<Pick<ArtifactStore, 'put' | 'close'>>;
  serving: Pick<ServingStore, 'set'>;
  metadata: Pick<MetadataStore, 'insertModel'>;
  metrics?: Record<string, number>;
  /** What the tagger was trained on (file, examples, run id…), kept with the model record. */
  dataSnapshot?: Record<string, unknown>;
  quantise?: boolean;
  signal?: AbortSignal;
}): Promise<TaggerPointer> {
  const { tagger } = args;
  const quantise = args.quantise ?? false;
  const modelId = `tagger-${idStamp()}-${idSuffix()}`;
  let artifactPath: string;
  let artifactKey: string | undefined;
  let bytes: number;
  if (isArtifactStoreUrl(args.artifacts)) {
    if (args.openArtifacts === undefined)
      throw new InvalidArgumentError(
        'openArtifacts',
        `stores.artifacts "${args.artifacts}" is an artifact store URL and publishTagger was given no opener for it`,
      );
    const body = tagger.toBytes({ quantise });
    artifactKey = taggerArtifactKey(modelId);
    artifactPath = artifactKey;
    const store = await args.openArtifacts(args.artifacts);
    try {
      await store.put(artifactKey, body, { signal: args.signal });
    } finally {
      await store.close();
    }
    bytes = body.byteLength;
  } else {
    artifactPath = resolve(join(args.artifacts, `${modelId}.tagger`));
    bytes = await writeTaggerFile(artifactPath, tagger, { quantise });
  }
  const metrics = args.metrics ?? {};
  await args.metadata.insertModel({
    id: modelId,
    kind: 'tagger',
    params: { ...tagger.options, quantised: quantise },
    dataSnapshot: { ...args.dataSnapshot, labels: tagger.labels.length, bytes },
    metrics,
    artifactPath,
    createdAt: new Date(),
  });
  const pointer: TaggerPointer = {
    modelId,
    artifactPath,
    ...(artifactKey === undefined ? {} : { artifactKey }),
    publishedAt: new Date().toISOString(),
    labels: tagger.labels.length,
    metrics,
  };
  await args.serving.set(TAGGER_POINTER_KEY, pointer);
  return pointer;
}
