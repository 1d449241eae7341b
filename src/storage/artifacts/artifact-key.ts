import { InvalidArgumentError } from '../../core/errors.js';

/** The longest key an {@link ArtifactStore} accepts, in characters (all ASCII, so also bytes). */
export const MAX_ARTIFACT_KEY_LENGTH = 1024;

const SEGMENT = /^[A-Za-z0-9_=-][A-Za-z0-9._=-]*$/;

/**
 * Checks that `key` is an artifact key as the {@link ArtifactStore} contract defines it:
 * `/`-separated segments of letters, digits, `.`, `_`, `-`, `=`, none empty and none starting
 * with `.` (which rules out `.` and `..`), no leading or trailing `/`, at most 1024 characters.
 * Backends call it before any I/O, so a key never reaches a path or a request unchecked.
 *
 * @param field - the name the error gives the key (an option or parameter name).
 * @throws InvalidArgumentError naming `field` and the reason.
 * @example
 * ```ts
 * assertArtifactKey('models/als-7/model.bin'); // passes
 * assertArtifactKey('../etc/passwd');           // throws InvalidArgumentError
 * ```
 */
export function assertArtifactKey(key: unknown, field = 'key'): asserts key is string {
  if (typeof key !== 'string')
    throw new InvalidArgumentError(field, `must be a string, got ${typeof key}`);
  if (key.length === 0) throw new InvalidArgumentError(field, 'must not be empty');
  if (key.length > MAX_ARTIFACT_KEY_LENGTH)
    throw new InvalidArgumentError(
      field,
      `is ${key.length} characters long; at most ${MAX_ARTIFACT_KEY_LENGTH}`,
    );
  if (key.startsWith('/'))
    throw new InvalidArgumentError(field, `"${printable(key)}" starts with "/"; keys are relative`);
  if (key.endsWith('/'))
    throw new InvalidArgumentError(
      field,
      `"${printable(key)}" ends with "/"; a key names an object, not a folder`,
    );
  for (const segment of key.split('/')) checkSegment(key, segment, field);
}

/**
 * Checks a prefix for {@link ArtifactStore.list}: `''`, or a key-like string that may end with
 * `/` or in the middle of a segment (`models/`, `models/als-`).
 *
 * @throws InvalidArgumentError naming `field` and the reason.
 */
export function assertArtifactPrefix(prefix: unknown, field = 'prefix'): asserts prefix is string {
  if (typeof prefix !== 'string')
    throw new InvalidArgumentError(field, `must be a string, got ${typeof prefix}`);
  if (prefix === '') return;
  if (prefix.length > MAX_ARTIFACT_KEY_LENGTH)
    throw new InvalidArgumentError(
      field,
      `is ${prefix.length} characters long; at most ${MAX_ARTIFACT_KEY_LENGTH}`,
    );
  if (prefix.startsWith('/'))
    throw new InvalidArgumentError(
      field,
      `"${printable(prefix)}" starts with "/"; prefixes are relative`,
    );
  const segments = prefix.split('/');
  // A trailing "/" leaves one empty last segment, which is allowed.
  if (segments[segments.length - 1] === '') segments.pop();
  for (const segment of segments) checkSegment(prefix, segment, field);
}

function checkSegment(whole: string, segment: string, field: string): void {
  if (segment === '')
    throw new InvalidArgumentError(field, `"${printable(whole)}" has an empty segment ("//")`);
  if (segment === '.' || segment === '..')
    throw new InvalidArgumentError(
      field,
      `"${printable(whole)}" has a "${segment}" segment; keys cannot step out of the store`,
    );
  if (!SEGMENT.test(segment)) {
    throw new InvalidArgumentError(
      field,
      `segment "${printable(segment)}" of "${printable(whole)}" may hold only letters, digits, ".", "_", "-", "=" and must not start with "."`,
    );
  }
}

/** The key with control and non-ASCII characters escaped, so that an error message stays one readable line. */
function printable(text: string): string {
  const shown = text.length > 120 ? `${text.slice(0, 120)}…` : text;
  return shown.replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
