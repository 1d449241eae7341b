import { DataError, InvalidArgumentError } from '../../core/errors.js';
import type { PredictOptions, TagExample, TagSuggestion } from './tagger.js';

/** What evaluation needs of a tagger; a `Tagger` is one. */
export interface TagPredictor {
  readonly labels: readonly string[];
  predict(text: string, options?: PredictOptions): TagSuggestion[];
}

/** Precision and recall at k, as fastText's `test` command reports them. */
export interface TaggerEvaluation {
  /** Examples counted: those with at least one tag the tagger knows. */
  examples: number;
  k: number;
  threshold: number;
  /** Correct predictions / predictions made (NaN when none was made). */
  precision: number;
  /** Correct predictions / gold tags. */
  recall: number;
}

/**
 * Evaluates `tagger` on `examples` exactly as fastText's `test` does: each example gets up to `k`
 * predictions scoring at least `threshold`; precision is the share of all predictions made that
 * are among the example's tags, recall the share of all gold tags that were predicted. As in
 * fastText, gold tags the tagger never saw in training are ignored (fastText's dictionary drops
 * them), and examples left with no tag are skipped. Repeated tags count once.
 *
 * @param options - `k` defaults to 1, `threshold` to 0; `source` names the examples' file in errors.
 * @throws DataError when no example is left to count (none has a tag, or none a tag the tagger
 * knows): precision and recall would be NaN, which is no answer.
 * @example
 * evaluateTagger(tagger, valid, { k: 5 }) // { examples: 3000, k: 5, threshold: 0, precision: 0.26, recall: 0.56 }
 */
export function evaluateTagger(
  tagger: TagPredictor,
  examples: readonly TagExample[],
  options: { k?: number; threshold?: number; source?: string } = {},
): TaggerEvaluation {
  const { k = 1, threshold = 0 } = options;
  if (!Array.isArray(examples as unknown))
    throw new InvalidArgumentError('examples', 'must be an array of { text, tags }');
  const known = new Set(tagger.labels);
  let counted = 0;
  let gold = 0;
  let predicted = 0;
  let correct = 0;
  for (const example of examples) {
    const tags = new Set(example.tags.filter((t) => known.has(t)));
    if (tags.size === 0) continue;
    const predictions = tagger.predict(example.text, { k, threshold });
    counted++;
    gold += tags.size;
    predicted += predictions.length;
    for (const p of predictions) if (tags.has(p.tag)) correct++;
  }
  if (counted === 0) throw nothingToMeasure(examples, known, options.source);
  return {
    examples: counted,
    k,
    threshold,
    precision: predicted === 0 ? NaN : correct / predicted,
    recall: gold === 0 ? NaN : correct / gold,
  };
}

function nothingToMeasure(
  examples: readonly TagExample[],
  known: ReadonlySet<string>,
  source: string | undefined,
): DataError {
  const location = source === undefined ? {} : { file: source };
  const unknown = examples.flatMap((e) => e.tags).find((t) => !known.has(t));
  if (unknown === undefined) {
    return new DataError(
      location,
      `none of its ${examples.length} examples has a tag (__label__tag or "tags"), so precision and recall cannot be measured`,
    );
  }
  return new DataError(
    location,
    `none of the tags of its ${examples.length} examples is one the model was trained on (e.g. ${JSON.stringify(unknown)}), so precision and recall cannot be measured`,
  );
}
