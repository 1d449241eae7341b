/**
 * Rendering: `kubectl kustomize <overlay>` (spawned without a shell) and parsing its
 * multi-document YAML into plain objects.
 */
import { execFile } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

/** One rendered Kubernetes object, as the YAML had it. */
export type K8sObject = Record<string, any>;

/** Raised when kubectl cannot be started: the message says how to install it. */
export class KubectlMissingError extends Error {
  constructor(command: string) {
    super(
      `kubectl is required to render the overlays ("${command} kustomize" could not start): ` +
        'install it (apt-get install kubectl, or any kubectl ≥ 1.21 with its built-in kustomize)',
    );
    this.name = 'KubectlMissingError';
  }
}

/** Raised when `kubectl kustomize` ran and refused the overlay; carries kubectl's own message. */
export class RenderError extends Error {
  constructor(
    readonly directory: string,
    detail: string,
  ) {
    // One line: kubectl's klog prefix (`E1207 03:32:38.898951   18228 run.go:72] `) dropped.
    const message = detail
      .replace(/^[EWIF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] /gm, '')
      .replace(/\s*\n\s*/g, ' ')
      .trim();
    super(`kubectl kustomize ${directory} failed: ${message}`);
    this.name = 'RenderError';
  }
}

/** Options for {@link renderOverlay}. */
export interface RenderOptions {
  /** The kubectl executable (default `kubectl`, found on PATH). */
  kubectl?: string;
}

/**
 * Renders one Kustomize directory with `kubectl kustomize` and returns its YAML text.
 * Throws {@link KubectlMissingError} when kubectl cannot be started and {@link RenderError} when
 * kustomize refuses the directory.
 */
export function renderKustomization(
  directory: string,
  options: RenderOptions = {},
): Promise<string> {
  const kubectl = options.kubectl ?? 'kubectl';
  return new Promise((resolve, reject) => {
    execFile(
      kubectl,
      ['kustomize', directory],
      { maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'EACCES') reject(new KubectlMissingError(kubectl));
          else reject(new RenderError(directory, stderr || error.message));
          return;
        }
        resolve(stdout);
      },
    );
  });
}

/**
 * Parses rendered multi-document YAML into objects, skipping empty documents. A YAML syntax
 * error or a document that is not a mapping throws, naming the document's position.
 */
export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  parseAllDocuments(text).forEach((document, index) => {
    if (document.errors.length > 0) {
      throw new Error(`document ${index + 1}: invalid YAML: ${document.errors[0]!.message}`);
    }
    const value: unknown = document.toJS();
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`document ${index + 1}: expected a Kubernetes object (a mapping)`);
    }
    objects.push(value as K8sObject);
  });
  return objects;
}
