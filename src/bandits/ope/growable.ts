/** Append-only typed-array buffers for readers that do not know the row count in advance. */

/** A growing `Float64Array`; {@link GrowableFloat64.view} returns the filled part. */
export class GrowableFloat64 {
  private data = new Float64Array(1024);
  length = 0;

  push(x: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = x;
  }

  /** A copy trimmed to the filled length. */
  view(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

/** A growing `Int32Array`; {@link GrowableInt32.view} returns the filled part. */
export class GrowableInt32 {
  private data = new Int32Array(1024);
  length = 0;

  push(x: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = x;
  }

  /** A copy trimmed to the filled length. */
  view(): Int32Array {
    return this.data.slice(0, this.length);
  }
}
