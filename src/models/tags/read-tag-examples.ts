import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { DataError, InvalidArgumentError } from '../../core/errors.js';
import type { TagExample } from './tagger.js';

/** fastText's label prefix. */
export const LABEL_PREFIX = '__label__';

/** Options of {@link readTagExamples}. */
export interface ReadTagExamplesOptions {
  /**
   * `fasttext`: one example per line, tags written `__label__tag` among the whitespace-separated
   * tokens; `jsonl`: one JSON object per line with a string `text` and an array `tags` (a `.json`
   * file holding one array of such objects is read too).
   * @defaultValue `jsonl` for `.jsonl`/`.json` files or content that starts with `{` or `[`, else `fasttext`
   */
  format?: 'fasttext' | 'jsonl';
}

/**
 * Reads tagged texts from a file in fastText's supervised format or as JSON lines. Blank lines
 * are skipped; an example may have no tags (training skips it, prediction files need none).
 *
 * In the fastText format every token starting with `__label__` is a tag, wherever it stands (as
 * fastText reads it), and the remaining tokens, joined by single spaces, are the text.
 *
 * @throws DataError naming the file and line when the file is missing or a line is malformed.
 * @example
 * const train = await readTagExamples('datasets/cooking-stackexchange/cooking.stackexchange.txt');
 */
export async function readTagExamples(
  path: string,
  options: ReadTagExamplesOptions = {},
): Promise<TagExample[]> {
  if (options.format !== undefined && options.format !== 'fasttext' && options.format !== 'jsonl') {
    throw new InvalidArgumentError(
      'format',
      `must be "fasttext" or "jsonl", got ${JSON.stringify(options.format)}`,
    );
  }
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (cause) {
    throw new DataError(
      { file: path },
      (cause as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'file not found'
        : `cannot be read (${(cause as Error).message})`,
      { cause },
    );
  }
  if (content.charCodeAt(0) === 0xfeff) content = content.slice(1);
  const start = content.trimStart()[0];
  const format =
    options.format ??
    (/^\.jsonl?$/i.test(extname(path)) || start === '{' || start === '[' ? 'jsonl' : 'fasttext');
  if (format === 'jsonl' && start === '[') return parseJsonArray(content, path);
  const lines = content.split(/\r?\n/);
  const out: TagExample[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    out.push(
      format === 'jsonl'
        ? parseJsonLine(lines[i], path, i + 1)
        : parseFastTextLine(lines[i], path, i + 1),
    );
  }
  return out;
}

function parseFastTextLine(line: string, file: string, lineNo: number): TagExample {
  const tags: string[] = [];
  const words: string[] = [];
  for (const token of line.split(/\s+/)) {
    if (token === '') continue;
    if (token.startsWith(LABEL_PREFIX)) {
      if (token.length === LABEL_PREFIX.length)
        throw new DataError(
          { file, line: lineNo },
          `empty tag: "${LABEL_PREFIX}" with nothing after it`,
        );
      tags.push(token.slice(LABEL_PREFIX.length));
    } else {
      words.push(token);
    }
  }
  return { text: words.join(' '), tags };
}

function parseJsonLine(line: string, file: string, lineNo: number): TagExample {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (cause) {
    throw new DataError({ file, line: lineNo }, `not valid JSON (${(cause as Error).message})`, {
      cause,
    });
  }
  return toExample(value, { file, line: lineNo });
}

function parseJsonArray(content: string, file: string): TagExample[] {
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch (cause) {
    throw new DataError({ file }, `not valid JSON (${(cause as Error).message})`, { cause });
  }
  return (value as unknown[]).map((item, i) => toExample(item, { file, row: i + 1 }));
}

function toExample(value: unknown, at: { file: string; line?: number; row?: number }): TagExample {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new DataError(at, 'expected an object with "text" and "tags"');
  const { text, tags } = value as { text?: unknown; tags?: unknown };
  if (typeof text !== 'string')
    throw new DataError({ ...at, column: 'text' }, `must be a string, got ${describe(text)}`);
  if (tags === undefined) return { text, tags: [] };
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string' || t === '')) {
    throw new DataError(
      { ...at, column: 'tags' },
      `must be an array of non-empty strings, got ${describe(tags)}`,
    );
  }
  return { text, tags: tags as string[] };
}

function describe(value: unknown): string {
  const json = JSON.stringify(value);
  return json === undefined ? 'nothing' : json.length > 40 ? `${json.slice(0, 40)}…` : json;
}
