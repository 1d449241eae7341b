/**
 * An open-addressing hash map from non-negative 32-bit integers (hash buckets) to dense row
 * numbers, on two Int32Arrays. Lookups allocate nothing, which matters on the prediction path.
 */
export class BucketTable {
  private keys: Int32Array;
  private values: Int32Array;
  private mask: number;
  private shift: number;
  private count = 0;

  /** @param expected - how many keys will be stored; the table grows past it if need be. */
  constructor(expected = 16) {
    let capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    this.keys = new Int32Array(capacity).fill(-1);
    this.values = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.shift = 32 - Math.log2(capacity);
  }

  /** Number of keys stored. */
  get size(): number {
    return this.count;
  }

  /** The value stored for `key`, or -1. */
  get(key: number): number {
    const keys = this.keys;
    for (let slot = slotOf(key, this.shift); ; slot = (slot + 1) & this.mask) {
      const k = keys[slot];
      if (k === key) return this.values[slot];
      if (k === -1) return -1;
    }
  }

  /** Stores `value` for `key` (a non-negative 32-bit integer), replacing any earlier value. */
  set(key: number, value: number): void {
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    const keys = this.keys;
    let slot = slotOf(key, this.shift);
    while (keys[slot] !== -1 && keys[slot] !== key) slot = (slot + 1) & this.mask;
    if (keys[slot] === -1) this.count++;
    keys[slot] = key;
    this.values[slot] = value;
  }

  private grow(): void {
    const { keys, values } = this;
    this.keys = new Int32Array(keys.length * 2).fill(-1);
    this.values = new Int32Array(keys.length * 2);
    this.mask = this.keys.length - 1;
    this.shift--;
    this.count = 0;
    for (let slot = 0; slot < keys.length; slot++)
      if (keys[slot] !== -1) this.set(keys[slot], values[slot]);
  }
}

/** Fibonacci hashing: the top `32 - shift` bits of key × 2³²/φ. */
function slotOf(key: number, shift: number): number {
  return Math.imul(key, 0x9e3779b1) >>> shift;
}
