import { describe, expect, it } from 'vitest';
import { signedPercent } from './signed-percent.js';

describe('signedPercent', () => {
  it('gives every change exactly one sign, and none to what rounds to zero', () => {
    expect(signedPercent(0.123)).toBe('+12.3%');
    expect(signedPercent(-0.0013, 2)).toBe('-0.13%');
    expect(signedPercent(-0.00001, 2)).toBe('0.00%');
    expect(signedPercent(0)).toBe('0.0%');
    expect(signedPercent(-0)).toBe('0.0%');
    expect(signedPercent(Number.NaN)).toBe('n/a');
    expect(signedPercent(-2.5, 0)).toBe('-250%');
  });
});
