/**
 * Validation carves: a fit part and a held-out part cut from a training log only, so that
 * hyper-parameters are chosen without reading the test file (issue 24).
 */
import { Random } from '../core/random.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { ExternalId } from '../data/id-map.js';
import type { InteractionLog } from '../data/interaction-log.js';
import { selectLogRows } from '../data/split.js';

/**
 * How {@link carveValidation} picks each user's held-out rows: `temporal` their latest by
 * timestamp (ties by file order), like the pipeline's own holdout; `random` a seeded random
 * choice, like a random train/test split.
 */
export type CarveKind = 'temporal' | 'random';

/** Every {@link CarveKind}, in the order help texts list them. */
export const CARVE_KINDS: readonly CarveKind[] = Object.freeze(['temporal', 'random']);

/** Options of {@link carveValidation}. */
export interface CarveOptions {
  /** @defaultValue 'temporal' */
  kind?: CarveKind;
  /** Share of each user's rows held out, in (0, 1). @defaultValue 0.1 */
  holdout?: number;
  /** Seed of the `random` carve (ignored by `temporal`). @defaultValue 42 */
  seed?: number;
}

/** What {@link carveValidation} returns: two logs whose rows together are the input's. */
export interface ValidationCarve {
  kind: CarveKind;
  /** Rows to fit on, in file order. */
  fit: InteractionLog;
  /** Rows held out to score on, in file order. */
  holdout: InteractionLog;
}

/**
 * Cuts a validation carve out of `log`: of a user's m rows, m − max(1, ⌊(1 − holdout)·m⌋) are
 * held out (so a user with one row keeps it in `fit`, and ~`holdout` of a user's rows are held
 * out), chosen by `kind`. Deterministic for equal inputs and seed.
 * @throws InvalidArgumentError naming `holdout` outside (0, 1), or `kind` when it is `temporal`
 *   and `log` has no timestamp column
 *
 * @example
 * const { fit, holdout } = carveValidation(await readInteractionLog('train.csv'), { kind: 'temporal' });
 */
export function carveValidation(log: InteractionLog, options: CarveOptions = {}): ValidationCarve {
  const kind = options.kind ?? 'temporal';
  const share = options.holdout ?? 0.1;
  if (!(share > 0 && share < 1))
    throw new InvalidArgumentError('holdout', `must lie strictly between 0 and 1, got ${share}`);
  if (kind !== 'temporal' && kind !== 'random')
    throw new InvalidArgumentError('kind', `"${String(kind)}" is not a carve: temporal | random`);
  const timestamps = log.timestamps;
  if (kind === 'temporal' && timestamps === null)
    throw new InvalidArgumentError(
      'kind',
      `a temporal carve needs timestamps, and ${log.source} has no timestamp column; use the random carve`,
    );
  const rowsByUser = new Map<ExternalId, number[]>();
  for (let r = 0; r < log.rows; r++) {
    const u = log.users[r];
    const rows = rowsByUser.get(u);
    if (rows === undefined) rowsByUser.set(u, [r]);
    else rows.push(r);
  }
  const random = new Random(options.seed ?? 42);
  const held = new Uint8Array(log.rows);
  for (const rows of rowsByUser.values()) {
    const keep = Math.max(1, Math.floor((1 - share) * rows.length));
    if (keep >= rows.length) continue;
    if (kind === 'temporal') {
      // Array.prototype.sort is stable, so equal timestamps stay in file order.
      rows.sort((a, b) => timestamps![a] - timestamps![b]);
    } else {
      for (let i = rows.length - 1; i > 0; i--) {
        const j = random.nextInt(i + 1);
        [rows[i], rows[j]] = [rows[j], rows[i]];
      }
    }
    for (let i = keep; i < rows.length; i++) held[rows[i]] = 1;
  }
  return { kind, fit: selectLogRows(log, held, 0), holdout: selectLogRows(log, held, 1) };
}

/**
 * The rows of `log` whose users are in `users`, in file order: a user subsample of a carve,
 * for cheap early rungs of a search.
 */
export function logOfUsers(log: InteractionLog, users: ReadonlySet<ExternalId>): InteractionLog {
  const mask = new Uint8Array(log.rows);
  for (let r = 0; r < log.rows; r++) mask[r] = users.has(log.users[r]) ? 1 : 0;
  return selectLogRows(log, mask, 1);
}
