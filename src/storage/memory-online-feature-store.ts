import {
  checkMark,
  checkView,
  checkWrite,
  packRow,
  schemaId,
  supersedes,
  unpackRow,
  withNames,
} from './online-feature-codec.js';
import type {
  EntityKey,
  MaterializedMark,
  OnlineFeatureStore,
  OnlineWrite,
  StoredOnlineRow,
} from '../features/online-store.js';

interface Entry {
  eventTime: number;
  createdTime: number;
  bytes: Uint8Array;
}

/**
 * An {@link OnlineFeatureStore} in this process's memory (tests, `memory:`): the same packed
 * records and newest-wins rule as the SQLite and Redis stores, gone when the process ends.
 *
 * @example
 * ```ts
 * const store = new MemoryOnlineFeatureStore();
 * await store.write('user_stats', ['clicks'], [{ key: 'u1', eventTime: 1, createdTime: 1, values: [3] }]);
 * await store.read('user_stats', ['u1']); // [{ eventTime: 1, createdTime: 1, values: [3], features: ['clicks'] }]
 * ```
 */
export class MemoryOnlineFeatureStore implements OnlineFeatureStore {
  readonly #rows = new Map<string, Map<EntityKey, Entry>>();
  readonly #schemas = new Map<string, Map<string, readonly string[]>>();
  readonly #marks = new Map<string, MaterializedMark>();

  async write(
    view: string,
    features: readonly string[],
    rows: readonly OnlineWrite[],
  ): Promise<number> {
    checkWrite(view, features);
    const schema = schemaId(features);
    const packed = rows.map((row, i) => packRow(row, schema, features.length, i));
    let schemas = this.#schemas.get(view);
    if (schemas === undefined) this.#schemas.set(view, (schemas = new Map()));
    if (!schemas.has(schema)) schemas.set(schema, Object.freeze([...features]));
    let entries = this.#rows.get(view);
    if (entries === undefined) this.#rows.set(view, (entries = new Map()));
    let stored = 0;
    for (const [i, row] of rows.entries()) {
      const bytes = packed[i]!;
      const had = entries.get(row.key);
      if (had !== undefined && !supersedes(row.eventTime, row.createdTime, bytes, had)) continue;
      // A copy: the packed record is a view into a shared slab, which it would keep alive.
      entries.set(row.key, {
        eventTime: row.eventTime,
        createdTime: row.createdTime,
        bytes: Buffer.from(bytes),
      });
      stored++;
    }
    return stored;
  }

  async read(view: string, keys: readonly EntityKey[]): Promise<(StoredOnlineRow | null)[]> {
    checkView(view);
    const entries = this.#rows.get(view);
    const schemas = this.#schemas.get(view);
    return keys.map((key) => {
      const entry = entries?.get(key);
      if (entry === undefined) return null;
      const row = unpackRow(entry.bytes);
      return withNames(row, schemas!.get(row.schema)!);
    });
  }

  async clearView(view: string): Promise<void> {
    checkView(view);
    this.#rows.delete(view);
    this.#schemas.delete(view);
    this.#marks.delete(view);
  }

  async getMaterialized(view: string): Promise<MaterializedMark | null> {
    checkView(view);
    const mark = this.#marks.get(view);
    return mark === undefined ? null : { ...mark };
  }

  async setMaterialized(view: string, mark: MaterializedMark): Promise<void> {
    checkView(view);
    checkMark(mark);
    this.#marks.set(view, {
      start: mark.start,
      end: mark.end,
      newestEventTime: mark.newestEventTime,
      updatedAt: mark.updatedAt,
    });
  }

  async listMaterialized(): Promise<Map<string, MaterializedMark>> {
    return new Map([...this.#marks].map(([view, mark]) => [view, { ...mark }]));
  }

  async sampleKeys(view: string, limit: number): Promise<EntityKey[]> {
    checkView(view);
    const keys: EntityKey[] = [];
    for (const key of this.#rows.get(view)?.keys() ?? []) {
      if (keys.length >= limit) break;
      keys.push(key);
    }
    return keys;
  }

  async close(): Promise<void> {}
}
