import { describe, expect, it } from 'vitest';
import { defineStage } from './stage.js';

describe('defineStage', () => {
  const main = async (): Promise<void> => {};
  it('takes preprocess or preprocessBatches, and refuses both at once', () => {
    expect(defineStage({ name: 'a', async *preprocess() {}, main }).name).toBe('a');
    expect(defineStage({ name: 'b', async *preprocessBatches() {}, main }).name).toBe('b');
    expect(() =>
      defineStage({ name: 'c', async *preprocess() {}, async *preprocessBatches() {}, main }),
    ).toThrow('defineStage(c): preprocess and preprocessBatches are alternatives; define one');
  });
  it('refuses a preprocessBatches that is not a function, naming it', () => {
    expect(() =>
      defineStage({ name: 'd', preprocessBatches: 3 as unknown as () => AsyncIterable<[]>, main }),
    ).toThrow('defineStage(d): preprocessBatches must be a function');
  });
});
