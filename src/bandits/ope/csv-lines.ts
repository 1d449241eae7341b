/**
 * Line-by-line CSV reading for the bandit log readers: streams the file (so a full Open Bandit
 * Dataset campaign need not fit in memory as text) and splits fields with RFC 4180 quoting.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { DataError } from '../../core/errors.js';

/**
 * Calls `onRow(fields, line)` for every non-empty line after the header, in order, after
 * `onHeader(names)`; `line` is 1-based with the header as line 1.
 *
 * @throws DataError when the file is missing, empty, or a row has the wrong number of fields.
 */
export async function readCsvLines(
  path: string,
  onHeader: (names: string[]) => void,
  onRow: (fields: string[], line: number) => void,
): Promise<void> {
  const info = await stat(path).catch(() => null);
  if (info === null) throw new DataError({ file: path }, 'file not found');
  if (!info.isFile()) throw new DataError({ file: path }, 'not a regular file');
  const lines = createInterface({
    input: createReadStream(path, { encoding: 'utf8' }),
    crlfDelay: Infinity,
  });
  let lineNo = 0;
  let width = -1;
  try {
    for await (const raw of lines) {
      lineNo++;
      const text = lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (text.trim().length === 0) continue;
      const fields = splitCsvLine(text, path, lineNo);
      if (width < 0) {
        width = fields.length;
        onHeader(fields.map((f) => f.trim()));
        continue;
      }
      if (fields.length !== width) {
        throw new DataError(
          { file: path, line: lineNo },
          `expected ${width} fields like the header, found ${fields.length}`,
        );
      }
      onRow(fields, lineNo);
    }
  } finally {
    lines.close();
  }
  if (width < 0) throw new DataError({ file: path }, 'the file is empty (no header line)');
}

/** Splits one CSV line; fields may be quoted with `"` and quotes doubled inside. */
export function splitCsvLine(text: string, file: string, line: number): string[] {
  if (!text.includes('"')) return text.split(',');
  const out: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += c;
    } else if (c === '"') {
      if (field.length > 0)
        throw new DataError({ file, line }, `a quote inside the unquoted field ${out.length + 1}`);
      quoted = true;
    } else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
    i++;
  }
  if (quoted) throw new DataError({ file, line }, 'an unterminated quoted field');
  out.push(field);
  return out;
}
