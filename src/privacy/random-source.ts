/**
 * Uniform integers for the exact noise samplers: {@link CryptoRandomSource} for releases (from
 * `node:crypto`), {@link SeededRandomSource} for reproducible tests only.
 */
import { randomFillSync } from 'node:crypto';
import { Random } from '../core/random.js';

/** A source of exactly uniform integers, the only randomness the exact samplers use. */
export interface RandomSource {
  /** A uniform integer in [0, n), exactly (no modulo bias); n ≥ 1. */
  uniformBelow(n: bigint): bigint;
  /**
   * Optional fast path of {@link RandomSource.uniformBelow} for a safe integer 1 ≤ n ≤ 2^53, as a
   * number; the samplers use it when present, and fall back to `uniformBelow` otherwise.
   */
  uniformBelowNumber?(n: number): number;
}

const TWO_32 = 4294967296;
const TWO_53 = 2 ** 53;

/**
 * A {@link RandomSource} built on a stream of uniform 32-bit words; rejection sampling makes every
 * result exactly uniform given uniform words.
 */
export abstract class WordRandomSource implements RandomSource {
  /** The next uniform word in [0, 2^32). */
  abstract nextUint32(): number;

  /**
   * A uniform integer in [0, n) for a safe integer 1 ≤ n ≤ 2^53.
   * @throws RangeError when n is out of that range.
   */
  uniformBelowNumber(n: number): number {
    if (n <= TWO_32 && n >= 1 && Number.isInteger(n)) {
      // Accept words below the largest multiple of n, so that `w % n` is exactly uniform.
      const limit = TWO_32 - (TWO_32 % n);
      for (;;) {
        const w = this.nextUint32();
        if (w < limit) return w % n;
      }
    }
    if (!(n <= TWO_53) || !Number.isInteger(n)) throw new RangeError(`n out of range: ${n}`);
    // Draw just enough high bits that a draw is accepted with probability > ½.
    const highBits = bitLength(Math.floor((n - 1) / TWO_32));
    const highSize = 2 ** highBits;
    for (;;) {
      const high = this.nextUint32() % highSize;
      const x = high * TWO_32 + this.nextUint32();
      if (x < n) return x;
    }
  }

  /**
   * A uniform integer in [0, n), exactly, for any bigint n ≥ 1.
   * @throws RangeError when n < 1.
   */
  uniformBelow(n: bigint): bigint {
    if (n < 1n) throw new RangeError(`n must be ≥ 1, got ${n}`);
    if (n <= BigInt(TWO_53)) return BigInt(this.uniformBelowNumber(Number(n)));
    const bits = (n - 1n).toString(2).length;
    const words = Math.ceil(bits / 32);
    const topMask = BigInt(2 ** (bits - 32 * (words - 1)) - 1);
    for (;;) {
      let x = BigInt(this.nextUint32()) & topMask;
      for (let i = 1; i < words; i++) x = (x << 32n) | BigInt(this.nextUint32());
      if (x < n) return x;
    }
  }
}

/** Bits needed to write a non-negative safe integer (0 for 0). */
function bitLength(x: number): number {
  let bits = 0;
  while (x >= 1) {
    bits++;
    x = Math.floor(x / 2);
  }
  return bits;
}

/** Words per refill: 64 KiB, so `randomFillSync`'s per-call cost is paid once per 16,384 words. */
const POOL_WORDS = 16384;

/**
 * Uniform integers from the operating system's CSPRNG (`node:crypto` `randomFillSync`), read
 * 32 bits at a time from a 64 KiB pool that is refilled when used up. The source for releases.
 */
export class CryptoRandomSource extends WordRandomSource {
  private readonly pool = new Uint32Array(POOL_WORDS);
  private next = POOL_WORDS;

  /** The next uniform word in [0, 2^32) from the pool. */
  nextUint32(): number {
    if (this.next === POOL_WORDS) {
      randomFillSync(this.pool);
      this.next = 0;
    }
    return this.pool[this.next++];
  }
}

/**
 * A seeded, NON-cryptographic source (xoshiro128**) for reproducible tests. Its output is
 * predictable from the seed: it must never be used to draw noise for a release.
 */
export class SeededRandomSource extends WordRandomSource {
  private readonly random: Random;

  /** @param seed - any 32-bit integer; equal seeds give equal sequences. */
  constructor(seed: number) {
    super();
    this.random = new Random(seed);
  }

  /** The next word in [0, 2^32) of the seeded stream. */
  nextUint32(): number {
    return this.random.nextUint32();
  }
}
