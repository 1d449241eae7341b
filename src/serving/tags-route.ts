import type { FastifyInstance } from 'fastify';
import { InvalidArgumentError, NotReadyError } from '../core/errors.js';
import type { LiveTagger } from '../models/tags/live-tagger.js';
import { tagSuggestRoute } from './schemas.js';

/** Whether `text` holds anything but white space, punctuation and symbols (something to tag). */
const HAS_WORDS = /[\p{L}\p{N}]/u;

/**
 * `POST /v1/tags/suggest` `{text, k?, threshold?}` → `[{tag, score}]`, answered by the tagger
 * `live` holds (its model id in the `x-kiban-model` header). Text that is empty, longer than
 * {@link MAX_TAG_TEXT} or has no letters or digits is a 400 that says so; before any tagger is
 * published, a 503.
 */
export function registerTagsRoute(app: FastifyInstance, live: LiveTagger): void {
  app.post<{ Body: { text: string; k: number; threshold: number } }>('/v1/tags/suggest', { schema: tagSuggestRoute }, async (request, reply) => {
    const { text, k, threshold } = request.body;
    if (!HAS_WORDS.test(text)) throw new InvalidArgumentError('body parameter text', 'has no letters or digits to tag');
    // The first request after start-up (or after a publish) need not wait for the next poll.
    const loaded = live.current ?? (await live.refresh());
    if (loaded === null) throw new NotReadyError('no tagger is published yet: run `kiban tags train --publish` or a workflow task of kind tags');
    void reply.header('x-kiban-model', loaded.pointer.modelId);
    return loaded.tagger.predict(text, { k, threshold });
  });
}
