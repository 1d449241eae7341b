import { describe, expect, it } from 'vitest';
import { FrameRing } from './frame-ring.js';

describe('FrameRing', () => {
  it('hands out 8-byte aligned memory and reuses a message only after hwm + slack later sends', () => {
    // 1 KiB ring, hwm 1 → distance 5; a message may take at most 1024 / 7 bytes.
    const ring = new FrameRing({ hwm: 1, bytes: 1024 });
    const starts: number[] = [];
    for (let m = 0; m < 40; m++) {
      const a = ring.take(100);
      const b = ring.take(3);
      expect(a.byteOffset % 8).toBe(0);
      expect(b.byteOffset % 8).toBe(0);
      starts.push(a.byteOffset);
      ring.seal();
      ring.accepted();
    }
    expect(ring.fallbacks).toBe(0);
    // Some memory came round again, but never while fewer than 6 later messages were accepted.
    const seen = new Map<number, number>();
    let reused = 0;
    starts.forEach((start, m) => {
      const last = seen.get(start);
      if (last !== undefined) {
        reused++;
        expect(m - last).toBeGreaterThanOrEqual(6);
      }
      seen.set(start, m);
    });
    expect(reused).toBeGreaterThan(10);
  });

  it('falls back to fresh memory while sends are not accepted, and for frames too large for it', () => {
    const ring = new FrameRing({ hwm: 1, bytes: 1024 });
    const taken = new Set<ArrayBufferLike>();
    for (let m = 0; m < 20; m++) {
      taken.add(ring.take(120).buffer);
      ring.seal(); // never accepted: nothing may be reused
    }
    expect(ring.fallbacks).toBeGreaterThan(10);
    expect(ring.take(1000).length).toBe(1000);
    expect(ring.fallbacks).toBeGreaterThan(11);
  });
});
