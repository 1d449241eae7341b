import { InvalidArgumentError } from '../core/errors.js';
import type { SinkSpec } from './sink.js';
import type { SourceSpec } from './source.js';

const FILE_KINDS = ['csv', 'jsonl', 'parquet'] as const;
const NAMESPACES = ['user', 'related', 'popular'] as const;

/**
 * A source named on the command line: `csv:PATH`, `jsonl:PATH`, `parquet:PATH` (a file or a
 * directory of partitions), `query:SQL` (DuckDB), `serving:URL#NAMESPACE`, or `range:FROM-TO`
 * (synthetic records `{ id }` for ids FROM ≤ id < TO; `range:N` is `range:0-N`).
 */
export function parseSourceSpec(text: string, field = '--source'): SourceSpec {
  const [kind, rest] = splitKind(text, field);
  if ((FILE_KINDS as readonly string[]).includes(kind))
    return { kind: kind as (typeof FILE_KINDS)[number], path: nonEmpty(rest, field, 'a path') };
  if (kind === 'query') return { kind: 'query', sql: nonEmpty(rest, field, 'an SQL query') };
  if (kind === 'serving') return { kind: 'serving', ...servingTarget(rest, field) };
  if (kind === 'range') return rangeSpec(rest, field);
  throw new InvalidArgumentError(
    field,
    `unknown source kind "${kind}"; use csv:, jsonl:, parquet:, query:, serving: or range:`,
  );
}

/** `N` or `FROM-TO` (either may be negative: `-5--1`); the bounds are checked when planned. */
function rangeSpec(rest: string, field: string): SourceSpec {
  const match = /^\s*(-?\d+)(?:\s*-\s*(-?\d+))?\s*$/.exec(rest);
  if (match === null)
    throw new InvalidArgumentError(field, `range: needs N or FROM-TO (integers), got "${rest}"`);
  return match[2] === undefined
    ? { kind: 'range', to: Number(match[1]) }
    : { kind: 'range', from: Number(match[1]), to: Number(match[2]) };
}

/**
 * A sink named on the command line: `jsonl:DIR`, `csv:DIR`, `parquet:DIR` (a directory of part
 * files, replaced at commit), `serving:URL#NAMESPACE`, or `collect` (print the outputs).
 */
export function parseSinkSpec(text: string, field = '--sink'): SinkSpec {
  if (text === 'collect') return { kind: 'collect' };
  const [kind, rest] = splitKind(text, field);
  if ((FILE_KINDS as readonly string[]).includes(kind))
    return {
      kind: kind as (typeof FILE_KINDS)[number],
      path: nonEmpty(rest, field, 'a directory'),
    };
  if (kind === 'serving') return { kind: 'serving', ...servingTarget(rest, field) };
  throw new InvalidArgumentError(
    field,
    `unknown sink kind "${kind}"; use jsonl:, csv:, parquet:, serving: or collect`,
  );
}

function splitKind(text: string, field: string): [string, string] {
  const at = text.indexOf(':');
  if (at <= 0)
    throw new InvalidArgumentError(
      field,
      `expected KIND:WHAT (e.g. parquet:data/events.parquet), got "${text}"`,
    );
  return [text.slice(0, at), text.slice(at + 1)];
}

function nonEmpty(value: string, field: string, what: string): string {
  if (value.trim() === '') throw new InvalidArgumentError(field, `needs ${what} after the kind`);
  return value;
}

function servingTarget(
  rest: string,
  field: string,
): { url: string; namespace: (typeof NAMESPACES)[number] } {
  const hash = rest.lastIndexOf('#');
  const namespace = hash < 0 ? '' : rest.slice(hash + 1);
  if (!(NAMESPACES as readonly string[]).includes(namespace))
    throw new InvalidArgumentError(
      field,
      `serving: needs URL#NAMESPACE with a namespace of ${NAMESPACES.join(', ')}`,
    );
  return {
    url: nonEmpty(rest.slice(0, hash), field, 'a store URL'),
    namespace: namespace as (typeof NAMESPACES)[number],
  };
}
