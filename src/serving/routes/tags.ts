import type { FastifyInstance } from 'fastify';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { InvalidArgumentError, NotReadyError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { LiveTagger } from '../../models/tags/live-tagger.js';
import type { ArtifactStore } from '../../storage/artifacts/artifact-store.js';
import type { ServingStore } from '../../storage/serving-store.js';
import { tagSuggestZodRoute } from '../schemas.js';
import { zodValidatorCompiler } from '../zod-validator.js';

/** Options of {@link tagRoutes}. */
export interface TagRoutesOptions {
  /** Where the published tagger's pointer is read. */
  serving: Pick<ServingStore, 'get'>;
  /** How often the published tagger is checked for a newer one. @defaultValue 2000 (the {@link LiveTagger} default) */
  pollMs?: number;
  /**
   * The artifact store taggers published by key are loaded from (the server's
   * `stores.artifacts`). @defaultValue none: only taggers published to a local file load
   */
  artifacts?: Pick<ArtifactStore, 'get'>;
}

/** Whether `text` holds anything but white space, punctuation and symbols (something to tag). */
const HAS_WORDS = /[\p{L}\p{N}]/u;

/**
 * `POST /v1/tags/suggest` `{text, k?, threshold?}` → `[{tag, score}]` (a fastify plugin), answered
 * by the published tagger (its model id in the `x-kiban-model` header). The plugin's own
 * {@link LiveTagger} keeps it up to date, polling from when the app is ready until it closes.
 * Text that is empty, longer than {@link MAX_TAG_TEXT} or has no letters or digits is a 400 that
 * says so; before any tagger is published, a 503.
 */
export async function tagRoutes(app: FastifyInstance, options: TagRoutesOptions): Promise<void> {
  const live = new LiveTagger(options.serving, {
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    ...(options.artifacts === undefined ? {} : { artifacts: options.artifacts }),
    logger: app.log.child({ component: 'tags' }) as Logger,
  });
  app.addHook('onReady', async () => live.start());
  app.addHook('onClose', async () => live.close());
  // Schemas in zod (this plugin's context only): the handler's types come from them, and so do
  // validation (worded as the app's other 400s) and the document.
  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.withTypeProvider<ZodTypeProvider>().post(
    '/v1/tags/suggest',
    // A read sent as POST (the text is the body): not in the audit log (see audit-plugin.ts).
    { schema: tagSuggestZodRoute, config: { scopes: ['tags:read'], audit: false } },
    async (request, reply) => {
      const { text, k, threshold } = request.body;
      if (!HAS_WORDS.test(text))
        throw new InvalidArgumentError('body parameter text', 'has no letters or digits to tag');
      // The first request after start-up (or after a publish) need not wait for the next poll.
      const loaded = live.current ?? (await live.refresh());
      if (loaded === null)
        throw new NotReadyError(
          'no tagger is published yet: run `kiban tags train --publish` or a workflow task of kind tags',
        );
      void reply.header('x-kiban-model', loaded.pointer.modelId);
      return loaded.tagger.predict(text, { k, threshold });
    },
  );
}
