import { DataError, InvalidArgumentError } from '../core/errors.js';
import { CsrMatrix } from './csr-matrix.js';
import { type ExternalIdColumn, IdMap } from './id-map.js';
import type { InteractionLog } from './interaction-log.js';

/**
 * How raw values become matrix entries: `binary` makes every (user, item) pair a 1 however
 * often it occurs; `value` sums the log's value column (counts when there is none).
 */
export type InteractionWeighting = 'binary' | 'value';

/**
 * Training interactions: a user×item matrix on dense indices plus the id maps that lead back
 * to external ids. This is what every {@link Recommender} fits on.
 */
export class Interactions {
  private itemUsersCache: CsrMatrix | undefined;

  constructor(
    readonly users: IdMap,
    readonly items: IdMap,
    /** Rows are users, columns items, column indices ascending within a row. */
    readonly userItems: CsrMatrix,
  ) {
    if (userItems.rows !== users.size || userItems.cols !== items.size) {
      throw new InvalidArgumentError(
        'userItems',
        `shape ${userItems.rows}×${userItems.cols} does not match ${users.size} users × ${items.size} items`,
      );
    }
  }

  /** Builds interactions from a log; ids are indexed in ascending order. */
  static fromLog(log: InteractionLog, weighting: InteractionWeighting = 'binary'): Interactions {
    if (log.rows === 0)
      throw new DataError({ file: log.source }, 'no interaction rows to train on');
    return Interactions.fromColumns(
      log.users,
      log.items,
      weighting === 'value' ? log.values : null,
      weighting,
    );
  }

  /**
   * Builds interactions from parallel columns of external user ids, item ids and values; ids
   * are indexed in ascending order. Linear in the rows apart from sorting the distinct string
   * ids (integer ids need no comparator sort).
   */
  static fromColumns(
    userIds: ExternalIdColumn,
    itemIds: ExternalIdColumn,
    values: Float32Array | null = null,
    weighting: InteractionWeighting = values === null ? 'binary' : 'value',
  ): Interactions {
    const users = IdMap.encodeOwned(userIds);
    const items = IdMap.encodeOwned(itemIds);
    // Codes computed here are ours: the matrix is built in their memory.
    const userItems = CsrMatrix.build(
      users.map.size,
      items.map.size,
      users.codes,
      items.codes,
      weighting === 'binary'
        ? { kind: 'binary' }
        : values === null
          ? { kind: 'count' }
          : { kind: 'sum', values },
      { consume: users.owned && items.owned },
    );
    return new Interactions(users.map, items.map, userItems);
  }

  /** The item×user matrix (transpose), computed once. */
  get itemUsers(): CsrMatrix {
    this.itemUsersCache ??= this.userItems.transpose();
    return this.itemUsersCache;
  }

  /** Number of stored (user, item) pairs. */
  get nnz(): number {
    return this.userItems.nnz;
  }
}
