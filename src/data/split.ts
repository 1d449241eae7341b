import { InvalidArgumentError } from '../core/errors.js';
import type { ExternalIdColumn } from './id-map.js';
import type { InteractionLog } from './interaction-log.js';

/**
 * Splits a log per user, in file order: each user's first max(1, ⌊fraction·m⌋) of m rows go to
 * `fit`, the rest to `holdout`. Used to carve a validation split out of a training file, so that
 * hyper-parameters are chosen without looking at the test file.
 */
export function splitLogPerUser(
  log: InteractionLog,
  fraction = 0.9,
): { fit: InteractionLog; holdout: InteractionLog } {
  if (!(fraction > 0 && fraction < 1))
    throw new InvalidArgumentError(
      'fraction',
      `must lie strictly between 0 and 1, got ${fraction}`,
    );
  const totals = new Map<number | string, number>();
  for (let r = 0; r < log.rows; r++) totals.set(log.users[r], (totals.get(log.users[r]) ?? 0) + 1);
  const seen = new Map<number | string, number>();
  const toFit = new Uint8Array(log.rows);
  for (let r = 0; r < log.rows; r++) {
    const u = log.users[r];
    const n = (seen.get(u) ?? 0) + 1;
    seen.set(u, n);
    toFit[r] = n <= Math.max(1, Math.floor(fraction * totals.get(u)!)) ? 1 : 0;
  }
  return { fit: selectLogRows(log, toFit, 1), holdout: selectLogRows(log, toFit, 0) };
}

/**
 * The rows r of `log` with `mask[r] === keep`, in file order, as a log of their own (no skipped
 * or bad rows: those belong to the file, not to a part of it).
 */
export function selectLogRows(log: InteractionLog, mask: Uint8Array, keep: number): InteractionLog {
  const rows: number[] = [];
  for (let r = 0; r < log.rows; r++) if (mask[r] === keep) rows.push(r);
  const pick = <T extends ExternalIdColumn>(col: T): T =>
    (col instanceof Float64Array
      ? Float64Array.from(rows, (r) => col[r])
      : rows.map((r) => (col as readonly string[])[r])) as T;
  return {
    source: log.source,
    rows: rows.length,
    users: pick(log.users),
    items: pick(log.items),
    values: log.values === null ? null : Float32Array.from(rows, (r) => log.values![r]),
    timestamps: log.timestamps === null ? null : Float64Array.from(rows, (r) => log.timestamps![r]),
    skipped: 0,
    badRows: [],
  };
}
