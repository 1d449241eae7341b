import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../core/errors.js';
import { planPartitions } from './sources.js';
import { parseSinkSpec, parseSourceSpec } from './spec-strings.js';

describe('parseSourceSpec', () => {
  it('reads file, query and serving sources', () => {
    expect(parseSourceSpec('parquet:data/events.parquet')).toEqual({
      kind: 'parquet',
      path: 'data/events.parquet',
    });
    expect(parseSourceSpec('query:SELECT 1')).toEqual({ kind: 'query', sql: 'SELECT 1' });
    expect(parseSourceSpec('serving:sqlite:./s.db#user')).toEqual({
      kind: 'serving',
      url: 'sqlite:./s.db',
      namespace: 'user',
    });
  });

  it('reads range:N and range:FROM-TO', () => {
    expect(parseSourceSpec('range:10000000')).toEqual({ kind: 'range', to: 10_000_000 });
    expect(parseSourceSpec('range:5-15')).toEqual({ kind: 'range', from: 5, to: 15 });
    expect(parseSourceSpec('range:-5--1')).toEqual({ kind: 'range', from: -5, to: -1 });
    expect(parseSourceSpec('range: 3 - 4 ')).toEqual({ kind: 'range', from: 3, to: 4 });
  });

  it('rejects malformed ranges, naming the option', () => {
    for (const text of [
      'range:',
      'range:abc',
      'range:1.5',
      'range:1-',
      'range:1-2-3',
      'range:1e3',
    ]) {
      expect(() => parseSourceSpec(text, '--source')).toThrow(InvalidArgumentError);
      expect(() => parseSourceSpec(text, '--source')).toThrow(
        /^--source: range: needs N or FROM-TO/,
      );
    }
  });

  it('leaves bound checks to planning', async () => {
    await expect(planPartitions(parseSourceSpec('range:9-3'))).rejects.toMatchObject({
      field: 'source.to',
    });
    await expect(
      planPartitions(parseSourceSpec('range:99999999999999999999')),
    ).rejects.toMatchObject({ field: 'source.to' });
  });

  it('rejects unknown kinds', () => {
    expect(() => parseSourceSpec('nope:x')).toThrow(/unknown source kind "nope".*range:/);
    expect(() => parseSourceSpec('nocolon')).toThrow(InvalidArgumentError);
  });
});

describe('parseSinkSpec', () => {
  it('reads sinks', () => {
    expect(parseSinkSpec('collect')).toEqual({ kind: 'collect' });
    expect(parseSinkSpec('jsonl:out')).toEqual({ kind: 'jsonl', path: 'out' });
    expect(() => parseSinkSpec('range:10')).toThrow(/unknown sink kind/);
  });
});
