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

  it('gives the unused end of the last frame taken back to the ring', () => {
    const ring = new FrameRing({ hwm: 1, bytes: 1024 });
    const a = ring.take(120);
    const cut = ring.shrink(a, 13);
    expect(cut.length).toBe(13);
    expect(cut.byteOffset).toBe(a.byteOffset);
    // The next frame starts right after the kept 13 bytes, 8-byte aligned.
    expect(ring.take(8).byteOffset).toBe(a.byteOffset + 16);
    // Only the last frame taken can give memory back; an earlier one is only cut.
    const b = ring.take(40);
    const c = ring.take(40);
    expect(ring.shrink(b, 1).length).toBe(1);
    expect(ring.take(8).byteOffset).toBe(c.byteOffset + 40);
    expect(() => ring.shrink(c, 41)).toThrow(RangeError);
    // Cut to nothing, the first frame of a message leaves the message no memory to wait for.
    ring.seal();
    const d = ring.take(64);
    ring.shrink(d, 0);
    ring.seal();
    expect(ring.take(64).byteOffset).toBe(d.byteOffset);
    // A fresh frame (too large for the ring) is cut too.
    const big = ring.take(1000);
    expect(ring.shrink(big, 10).length).toBe(10);
    expect(ring.fallbacks).toBe(1);
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
