/**
 * The scheme table of the artifact store: `file:DIR` (the default, `file:.kiban/artifacts`) and
 * `s3://BUCKET[/PREFIX][?endpoint=URL&region=R]`. Each backend module is loaded by dynamic import
 * when a URL first needs it, and the S3 one loads the AWS SDK only when opened, so a process that
 * keeps its artifacts on disk never loads the SDK.
 *
 * @module
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '../core/errors.js';
import { type ArtifactStore, isArtifactStoreUrl } from '../storage/artifacts/artifact-store.js';
import type { S3Credentials } from '../storage/artifacts/s3-artifact-store.js';

/** The artifact store URL used when none is configured: a folder under the working directory. */
export const DEFAULT_ARTIFACTS_URL = 'file:.kiban/artifacts';

export { isArtifactStoreUrl } from '../storage/artifacts/artifact-store.js';

/**
 * The artifact store URL of a `stores.artifacts` value: a URL as it is, a plain directory path
 * (the older form, e.g. `.kiban/models`) as `file:` of that path, so existing configurations
 * keep working.
 *
 * @example
 * artifactStoreUrl('.kiban/models'); // 'file:.kiban/models'
 * artifactStoreUrl('s3://ml/kiban?endpoint=http://127.0.0.1:9000'); // unchanged
 */
export function artifactStoreUrl(value: string): string {
  return isArtifactStoreUrl(value) || /^[a-z][a-z0-9+.-]*:\/\//i.test(value)
    ? value
    : `file:${value}`;
}

/** What an artifact store URL cannot carry. */
export interface OpenArtifactStoreOptions {
  /** The configuration key the URL came from, named in errors. @defaultValue `'stores.artifacts'` */
  field?: string;
  /**
   * S3 credentials from configuration (never from the URL). Left out, the AWS SDK's chain finds
   * them: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`), profiles, roles.
   */
  credentials?: S3Credentials;
  /** Where `AWS_REGION` / `AWS_DEFAULT_REGION` are read when the URL names no region. @defaultValue `process.env` */
  env?: Readonly<Record<string, string | undefined>>;
}

interface ArtifactScheme {
  readonly name: string;
  matches(url: string): boolean;
  open(url: string, field: string, options: OpenArtifactStoreOptions): Promise<ArtifactStore>;
}

const SCHEMES: readonly ArtifactScheme[] = [
  {
    name: 'file:',
    matches: (url) => url.startsWith('file:'),
    open: async (url, field) =>
      new (await import('../storage/artifacts/file-artifact-store.js')).FileArtifactStore(
        filePath(url, field),
      ),
  },
  {
    name: 's3://',
    matches: (url) => url.startsWith('s3://'),
    open: async (url, field, options) => {
      const parsed = parseS3Url(url, field);
      const env = options.env ?? process.env;
      const region = parsed.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
      const { S3ArtifactStore } = await import('../storage/artifacts/s3-artifact-store.js');
      return S3ArtifactStore.open({
        bucket: parsed.bucket,
        prefix: parsed.prefix,
        ...(parsed.endpoint === undefined ? {} : { endpoint: parsed.endpoint }),
        ...(region === undefined || region === '' ? {} : { region }),
        ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      }).catch((error: unknown) => {
        // Name the configuration key, not only the backend's option.
        if (error instanceof InvalidArgumentError)
          throw new InvalidArgumentError(field, `${error.field}: ${error.reason}`, {
            cause: error,
          });
        throw error;
      });
    },
  },
];

/**
 * Opens the artifact store a URL names.
 *
 * - `file:DIR` — a folder, relative to the working directory (`file:.kiban/artifacts`), or
 *   `file:///abs/dir`. Shared only by processes that see the same disk.
 * - `s3://BUCKET[/PREFIX][?endpoint=http://HOST:PORT&region=R]` — any S3-compatible service,
 *   path-style; objects under `PREFIX/` in the bucket (which must exist). The region defaults to
 *   `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1`. Credentials never go in the URL.
 *
 * @throws InvalidArgumentError naming `field` (default `stores.artifacts`) when the scheme is
 *   unknown, the URL is malformed, carries credentials or an unknown option; the message never
 *   repeats a URL that carries credentials.
 * @example
 * ```ts
 * const local = await openArtifactStore(DEFAULT_ARTIFACTS_URL);
 * const shared = await openArtifactStore('s3://ml-artifacts/kiban?endpoint=http://127.0.0.1:9000');
 * ```
 */
export async function openArtifactStore(
  url: string = DEFAULT_ARTIFACTS_URL,
  options: OpenArtifactStoreOptions = {},
): Promise<ArtifactStore> {
  const field = options.field ?? 'stores.artifacts';
  const scheme = SCHEMES.find((s) => s.matches(url));
  if (scheme === undefined) {
    throw new InvalidArgumentError(
      field,
      `"${redact(url)}" is not an artifact store URL; use ${SCHEMES.map((s) => s.name).join(' or ')} (file:DIR, s3://BUCKET/PREFIX)`,
    );
  }
  return scheme.open(url, field, options);
}

function filePath(url: string, field: string): string {
  if (url.startsWith('file://')) {
    try {
      return fileURLToPath(url);
    } catch (error) {
      throw new InvalidArgumentError(
        field,
        `"${url}" is not a file URL of a local folder; use file:DIR or file:///ABSOLUTE/DIR`,
        { cause: error },
      );
    }
  }
  const path = url.slice('file:'.length);
  if (path.length === 0)
    throw new InvalidArgumentError(
      field,
      `"${url}" names no folder; use file:DIR, e.g. ${DEFAULT_ARTIFACTS_URL}`,
    );
  return resolve(path);
}

const S3_OPTIONS = ['endpoint', 'region'] as const;

function parseS3Url(
  url: string,
  field: string,
): { bucket: string; prefix: string; endpoint?: string; region?: string } {
  const rest = url.slice('s3://'.length);
  const at = rest.indexOf('?');
  const location = at < 0 ? rest : rest.slice(0, at);
  const slash = location.indexOf('/');
  const bucket = slash < 0 ? location : location.slice(0, slash);
  if (bucket.includes('@') || bucket.includes(':')) {
    throw new InvalidArgumentError(
      field,
      'an s3:// URL must not carry credentials or a port; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or configure credentials) and give the service as ?endpoint=',
    );
  }
  if (bucket === '')
    throw new InvalidArgumentError(field, `"${url}" names no bucket; use s3://BUCKET/PREFIX`);
  const result: { bucket: string; prefix: string; endpoint?: string; region?: string } = {
    bucket,
    prefix: slash < 0 ? '' : location.slice(slash + 1),
  };
  if (at >= 0) {
    for (const [key, value] of new URLSearchParams(rest.slice(at + 1))) {
      if (!(S3_OPTIONS as readonly string[]).includes(key)) {
        throw new InvalidArgumentError(
          field,
          `unknown s3:// URL option "${key}"; known: ${S3_OPTIONS.join(', ')} (credentials are never URL options)`,
        );
      }
      result[key as (typeof S3_OPTIONS)[number]] = value;
    }
  }
  return result;
}

/** The URL with any `user:password@` part masked, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/[^/@?#]*@/, '//***@');
}
