/**
 * Filterable item attributes of a vector index (`category`, `lang`, …): for each attribute, its
 * distinct values (a dictionary) and one `Int32Array` of value codes indexed by key, `-1` where
 * the key has no value. No object per key, so a million items cost 4 bytes per attribute each.
 *
 * @module
 */
import { DataError, InvalidArgumentError } from '../core/errors.js';

/** An item's attributes: attribute name → value. */
export type ItemAttributes = Readonly<Record<string, string>>;

/** An equality filter: attribute name → accepted values (any of them); every attribute must hold. */
export type AttributeFilter = Readonly<Record<string, readonly string[]>>;

/** Most attributes per index (and per item). */
export const MAX_ATTRIBUTES = 32;
/** Longest attribute value, in UTF-16 code units. */
export const MAX_ATTRIBUTE_VALUE = 256;

const ATTRIBUTE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Checks an attribute name: 1 to 64 letters, digits, `-` and `_`.
 *
 * @throws InvalidArgumentError naming `field`.
 */
export function assertAttributeName(name: unknown, field: string): asserts name is string {
  if (typeof name !== 'string' || !ATTRIBUTE_NAME.test(name))
    throw new InvalidArgumentError(
      field,
      `${JSON.stringify(name)} is not an attribute name: use 1 to 64 letters, digits, "-" and "_"`,
    );
}

/**
 * Checks an item's attributes: a plain object of at most {@link MAX_ATTRIBUTES} names (see
 * {@link assertAttributeName}) to strings of 1 to {@link MAX_ATTRIBUTE_VALUE} characters.
 *
 * @throws InvalidArgumentError naming `field` (or `field.<name>`).
 */
export function assertItemAttributes(
  value: unknown,
  field: string,
): asserts value is ItemAttributes {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidArgumentError(field, 'must be an object of attribute names to strings');
  const entries = Object.entries(value);
  if (entries.length > MAX_ATTRIBUTES)
    throw new InvalidArgumentError(
      field,
      `has ${entries.length} attributes, at most ${MAX_ATTRIBUTES}`,
    );
  for (const [name, v] of entries) {
    assertAttributeName(name, field);
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_ATTRIBUTE_VALUE)
      throw new InvalidArgumentError(
        `${field}.${name}`,
        `must be a string of 1 to ${MAX_ATTRIBUTE_VALUE} characters`,
      );
  }
}

/** One attribute: its dictionary and the codes by key. */
interface Column {
  values: string[];
  codeOf: Map<string, number>;
  codes: Int32Array;
}

/** The stored form (`attributes.json` of an index version). */
interface StoredColumn {
  values: string[];
  /** Base64 of the little-endian int32 codes, one per key. */
  codes: string;
}

/**
 * The attributes of every key of one index, growable as keys are added. Keys are the index's
 * dense keys; a key never given a value has none (and matches no filter on that attribute).
 *
 * @example
 * ```ts
 * const attributes = new VectorAttributes();
 * attributes.set(0, { category: 'stickers' });
 * const filter = attributes.matcher({ category: ['stickers', 'fonts'] }, 'filter');
 * filter(0); // true
 * ```
 */
export class VectorAttributes {
  readonly #columns = new Map<string, Column>();
  #capacity = 0;

  /** The attribute names, in the order first seen. */
  get names(): string[] {
    return [...this.#columns.keys()];
  }

  /** Whether `name` is an attribute of the index. */
  has(name: string): boolean {
    return this.#columns.has(name);
  }

  /** Adds attribute `name` (with no values yet) if it is not there. */
  declare(name: string): void {
    if (this.#columns.has(name)) return;
    if (this.#columns.size >= MAX_ATTRIBUTES)
      throw new InvalidArgumentError(
        'attributes',
        `an index has at most ${MAX_ATTRIBUTES} attributes`,
      );
    this.#columns.set(name, {
      values: [],
      codeOf: new Map(),
      codes: new Int32Array(this.#capacity).fill(-1),
    });
  }

  /**
   * Makes `attributes` the whole set of `key`'s values (names not given are cleared); null clears
   * them all.
   */
  set(key: number, attributes: ItemAttributes | null): void {
    this.#ensure(key + 1);
    for (const [name, column] of this.#columns)
      if (attributes === null || !(name in attributes)) column.codes[key] = -1;
    if (attributes === null) return;
    for (const [name, value] of Object.entries(attributes)) {
      this.declare(name);
      const column = this.#columns.get(name)!;
      let code = column.codeOf.get(value);
      if (code === undefined) {
        code = column.values.length;
        column.values.push(value);
        column.codeOf.set(value, code);
      }
      column.codes[key] = code;
    }
  }

  /** `key`'s values (empty when it has none). */
  get(key: number): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, column] of this.#columns) {
      const code = key < column.codes.length ? column.codes[key]! : -1;
      if (code >= 0) out[name] = column.values[code]!;
    }
    return out;
  }

  /**
   * A predicate over keys that holds when, for every attribute of `filter`, the key's value is
   * one of the accepted ones.
   *
   * @throws InvalidArgumentError naming `field` when the filter names an attribute the index does
   *   not have, or gives an attribute no value.
   */
  matcher(filter: AttributeFilter, field: string): (key: number) => boolean {
    const tests: { codes: Int32Array; accepted: Uint8Array }[] = [];
    for (const [name, values] of Object.entries(filter)) {
      const column = this.#columns.get(name);
      if (column === undefined)
        throw new InvalidArgumentError(
          field,
          `the index has no attribute "${name}"${this.#columns.size === 0 ? ' (it has none)' : `; it has ${this.names.map((n) => `"${n}"`).join(', ')}`}`,
        );
      if (values.length === 0)
        throw new InvalidArgumentError(field, `gives the attribute "${name}" no value`);
      const accepted = new Uint8Array(column.values.length);
      for (const value of values) {
        const code = column.codeOf.get(value);
        if (code !== undefined) accepted[code] = 1;
      }
      tests.push({ codes: column.codes, accepted });
    }
    return (key) => {
      for (const { codes, accepted } of tests) {
        const code = key < codes.length ? codes[key]! : -1;
        if (code < 0 || accepted[code] !== 1) return false;
      }
      return true;
    };
  }

  /** An independent copy. */
  clone(): VectorAttributes {
    const copy = new VectorAttributes();
    copy.#capacity = this.#capacity;
    for (const [name, c] of this.#columns)
      copy.#columns.set(name, {
        values: [...c.values],
        codeOf: new Map(c.codeOf),
        codes: c.codes.slice(),
      });
    return copy;
  }

  /** The attributes of keys `rows[0]`, `rows[1]`, … as keys `0, 1, …` of a new set. */
  take(rows: ArrayLike<number>): VectorAttributes {
    const out = new VectorAttributes();
    out.#capacity = rows.length;
    for (const [name, c] of this.#columns) {
      const codes = new Int32Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        codes[i] = row < c.codes.length ? c.codes[row]! : -1;
      }
      out.#columns.set(name, { values: [...c.values], codeOf: new Map(c.codeOf), codes });
    }
    return out;
  }

  /** The stored form of keys `0 … count - 1`, or null when the index has no attributes. */
  serialize(count: number): string | null {
    if (this.#columns.size === 0) return null;
    this.#ensure(count);
    const out: Record<string, StoredColumn> = {};
    for (const [name, c] of this.#columns) {
      const codes = c.codes.subarray(0, count);
      const bytes = Buffer.alloc(count * 4);
      for (let i = 0; i < count; i++) bytes.writeInt32LE(codes[i]!, i * 4);
      out[name] = { values: c.values, codes: bytes.toString('base64') };
    }
    return JSON.stringify(out);
  }

  /**
   * Reads the stored form of `count` keys.
   *
   * @throws DataError naming `file` when it is malformed.
   */
  static parse(text: string, count: number, file: string): VectorAttributes {
    const attributes = new VectorAttributes();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new DataError({ file }, 'is not JSON', { cause });
    }
    if (typeof parsed !== 'object' || parsed === null)
      throw new DataError({ file }, 'is not an object of attributes');
    attributes.#capacity = count;
    for (const [name, stored] of Object.entries(parsed as Record<string, StoredColumn>)) {
      const bytes = Buffer.from(String(stored?.codes ?? ''), 'base64');
      if (
        !ATTRIBUTE_NAME.test(name) ||
        !Array.isArray(stored?.values) ||
        bytes.length !== count * 4
      )
        throw new DataError(
          { file },
          `attribute "${name}" is not ${count} codes and a list of values`,
        );
      const codes = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        codes[i] = bytes.readInt32LE(i * 4);
        if (codes[i]! < -1 || codes[i]! >= stored.values.length)
          throw new DataError({ file }, `attribute "${name}" has code ${codes[i]} at key ${i}`);
      }
      const values = stored.values.map(String);
      attributes.#columns.set(name, {
        values,
        codeOf: new Map(values.map((v, i) => [v, i])),
        codes,
      });
    }
    return attributes;
  }

  #ensure(size: number): void {
    if (size <= this.#capacity) return;
    const capacity = Math.max(size, this.#capacity * 2, 16);
    for (const column of this.#columns.values()) {
      const codes = new Int32Array(capacity).fill(-1);
      codes.set(column.codes);
      column.codes = codes;
    }
    this.#capacity = capacity;
  }
}
