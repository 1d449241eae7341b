import { readFile, rm, writeFile } from 'node:fs/promises';
import { type Document, isMap, parseDocument, YAMLMap } from 'yaml';
import { DataError } from '../core/errors.js';
import { loadKibanConfig } from './config.js';

/**
 * Edits the kiban.yaml `file` in place, keeping what `edit` does not touch (comments included):
 * reads it (an empty document when missing), hands `edit` the document with a mapping at its top,
 * writes it, and checks it by loading it. When the check fails the file is put back as it was (or
 * removed when it was made here) and the error rethrown. An error `edit` throws leaves the file
 * untouched.
 * @throws DataError naming the file when it cannot be read, is not YAML or is not a mapping
 */
export async function editKibanConfigFile(
  file: string,
  edit: (doc: Document) => void,
): Promise<void> {
  const before = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw new DataError({ file }, 'cannot read the configuration file', { cause: error });
  });
  const doc: Document = parseDocument(before ?? '');
  if (doc.errors.length > 0)
    throw new DataError(
      { file, line: doc.errors[0].linePos?.[0].line },
      `not valid YAML: ${doc.errors[0].message.split('\n')[0]}`,
    );
  if (doc.contents === null) doc.contents = new YAMLMap();
  if (!isMap(doc.contents)) throw new DataError({ file }, 'is not a mapping of configuration keys');
  edit(doc);
  await writeFile(file, doc.toString());
  try {
    await loadKibanConfig({ file });
  } catch (error) {
    if (before === null) await rm(file, { force: true });
    else await writeFile(file, before);
    throw error;
  }
}
