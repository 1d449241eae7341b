import { DataError, InvalidArgumentError } from '../core/errors.js';
import { CsrMatrix } from './csr-matrix.js';
import { buildCsrArrays } from './csr-build.js';
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
    // Item ids in a compact integer range are looked up while the matrix is built, so their
    // codes are never written out. Codes computed here are ours: the matrix is built in their
    // memory.
    const itemTable = users.owned ? IdMap.encodeAsTable(itemIds) : null;
    const items = itemTable === null ? IdMap.encodeOwned(itemIds) : null;
    const itemMap = itemTable?.map ?? items!.map;
    const built = buildCsrArrays(
      users.map.size,
      itemMap.size,
      users.codes,
      itemTable ?? items!.codes,
      weighting === 'binary'
        ? { kind: 'binary' }
        : values === null
          ? { kind: 'count' }
          : { kind: 'sum', values },
      { consume: users.owned && (items?.owned ?? true) },
    );
    const userItems = new CsrMatrix(
      users.map.size,
      itemMap.size,
      built.indptr,
      built.indices,
      built.values,
    );
    return new Interactions(users.map, itemMap, userItems);
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
