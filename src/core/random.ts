/**
 * A small, fast, seedable pseudo-random generator (SplitMix32 seeding a xoshiro128**), so that
 * model training is reproducible from a seed and cheap inside hot loops.
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** @param seed - any 32-bit integer; equal seeds give equal sequences. */
  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
  }

  /** Copies the generator's state into `out` (4 words), e.g. to hand it to a WebAssembly kernel. */
  saveState(out: Uint32Array): void {
    out[0] = this.a;
    out[1] = this.b;
    out[2] = this.c;
    out[3] = this.d;
  }

  /** Continues from a state written by {@link Random.saveState} (or a kernel that advanced it). */
  loadState(state: Uint32Array): void {
    this.a = state[0];
    this.b = state[1];
    this.c = state[2];
    this.d = state[3];
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A uniform integer in [0, n); `n` must be a positive integer below 2^32. */
  nextInt(n: number): number {
    // Multiply-shift (Lemire) without the rejection step: the bias is below n / 2^32,
    // far under anything sampling for training can notice.
    return Math.floor((this.nextUint32() / 4294967296) * n);
  }

  /** Fills `out` with normal variates of mean 0 and standard deviation `std`, in index order. */
  fillGaussian(out: Float32Array, std: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.nextGaussian() * std;
    return out;
  }

  /** A standard normal variate (Box–Muller). */
  nextGaussian(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
