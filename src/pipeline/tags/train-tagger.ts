import { InvalidArgumentError, KibanError } from '../../core/errors.js';
import { evaluateTagger, type TaggerEvaluation } from '../../models/tags/evaluate-tagger.js';
import { readTagExamples } from '../../models/tags/read-tag-examples.js';
import { Tagger, type TagExample, type TaggerOptions } from '../../models/tags/tagger.js';

/** What {@link trainTagger} reads, trains and checks. */
export interface TrainTaggerJob {
  /** Training examples: fastText format (`__label__tag … text`) or JSON lines `{text, tags}`. */
  input: string;
  /** Held-out examples to measure precision and recall at `k` on. @defaultValue none */
  valid?: string;
  options?: Partial<TaggerOptions>;
  /** @defaultValue 1 */
  k?: number;
  /** @defaultValue 0 */
  threshold?: number;
  /** Fail (with {@link TaggerGateError}) when precision at k on `valid` is lower. @defaultValue none */
  minPrecision?: number;
  onProgress?: (fraction: number, loss: number) => void;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** What {@link trainTagger} produced. */
export interface TrainedTagger {
  tagger: Tagger;
  trainExamples: number;
  trainSeconds: number;
  /** On `valid`, when given. */
  evaluation: TaggerEvaluation | null;
  /** `precision@k` and `recall@k` from the evaluation (empty without one), for the model record. */
  metrics: Record<string, number>;
}

/** The tagger's precision on the validation file is under the minimum asked for: it is not published. */
export class TaggerGateError extends KibanError {
  constructor(
    readonly precision: number,
    readonly minimum: number,
    k: number,
  ) {
    super(
      'INVALID_DATA',
      `the tagger's precision@${k} ${precision.toFixed(4)} is below the minimum ${minimum}; not publishing it`,
    );
  }
}

/**
 * Reads the training file, trains a tagger, and measures it on the validation file when there
 * is one: the shared core of `kiban tags train` and workflow tasks of kind `tags`.
 *
 * @throws DataError for unreadable input; InvalidArgumentError for bad options; TaggerGateError
 *   when `minPrecision` is not reached.
 */
export async function trainTagger(job: TrainTaggerJob): Promise<TrainedTagger> {
  const k = job.k ?? 1;
  const threshold = job.threshold ?? 0;
  if (!Number.isInteger(k) || k < 1)
    throw new InvalidArgumentError('k', `must be a positive integer, got ${String(job.k)}`);
  if (!(threshold >= 0 && threshold <= 1))
    throw new InvalidArgumentError(
      'threshold',
      `must be a number from 0 to 1, got ${String(job.threshold)}`,
    );
  if (job.minPrecision !== undefined && job.valid === undefined)
    throw new InvalidArgumentError(
      'minPrecision',
      'needs a validation file to measure precision on',
    );
  const log = job.log ?? (() => {});
  const examples = await readTagExamples(job.input);
  const valid: TagExample[] | null =
    job.valid === undefined ? null : await readTagExamples(job.valid);
  // Validation examples without a tag measure nothing: say so before the training, not after.
  if (valid !== null && valid.every((e) => e.tags.length === 0))
    evaluateTagger({ labels: [], predict: () => [] }, valid, { source: job.valid });
  const tagged = examples.filter((e) => e.tags.length > 0).length;
  log(`tags: training on ${tagged} tagged examples of ${job.input}`);
  const t0 = performance.now();
  const tagger = await Tagger.train(examples, job.options ?? {}, {
    ...(job.onProgress === undefined ? {} : { onProgress: job.onProgress }),
    ...(job.signal === undefined ? {} : { signal: job.signal }),
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  log(`tags: trained ${tagger.labels.length} tags in ${trainSeconds.toFixed(2)} s`);
  let evaluation: TaggerEvaluation | null = null;
  const metrics: Record<string, number> = {};
  if (valid !== null) {
    evaluation = evaluateTagger(tagger, valid, { k, threshold, source: job.valid });
    metrics[`precision@${k}`] = evaluation.precision;
    metrics[`recall@${k}`] = evaluation.recall;
    log(
      `tags: on ${evaluation.examples} examples of ${job.valid}: P@${k} ${evaluation.precision.toFixed(4)}, R@${k} ${evaluation.recall.toFixed(4)}`,
    );
    if (job.minPrecision !== undefined && !(evaluation.precision >= job.minPrecision))
      throw new TaggerGateError(evaluation.precision, job.minPrecision, k);
  }
  return { tagger, trainExamples: tagged, trainSeconds, evaluation, metrics };
}
