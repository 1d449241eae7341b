/**
 * CLI: `npx tsx deploy/validate/validate-manifests.ts [--overlay NAME…] [--root DIR]
 * [--secret-keys FILE] [--kubectl PATH]`. Renders each overlay with `kubectl kustomize`, checks
 * every object, prints every problem as `overlay/kind/name: path: message [rule]` and exits 1
 * when there is any (2 on a usage error or when kubectl is missing).
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { RULES } from './rules.js';
import { DEFAULT_ROOT, formatProblem, validateOverlays } from './validate.js';

const HELP = `Usage: npx tsx deploy/validate/validate-manifests.ts [options] [OVERLAY…]

Renders Kustomize overlays with "kubectl kustomize" and checks every object against the
Kubernetes schemas (kubernetes-models, @kubernetes-models/keda; unknown fields refused) and
kiban's rules. Prints each problem as "overlay/kind/name: path: message [rule]".

Options:
  --overlay NAME     check this overlay (repeatable, or name overlays as arguments;
                     default: every directory in ROOT/overlays)
  --root DIR         the Kustomize tree (default: deploy/k8s)
  --secret-keys FILE the documented Secret keys (default: ROOT/secret-keys.yaml)
  --kubectl PATH     the kubectl executable (default: kubectl on PATH)
  -h, --help         show this help

Exit status: 0 valid, 1 problems found, 2 usage error or kubectl missing.

Rules:
${[
  ['render', 'kubectl kustomize renders the overlay'],
  ['known-kind', 'kubernetes-models or @kubernetes-models/keda knows the apiVersion and kind'],
  ['schema', 'the object passes its schema (types, required fields, enums)'],
  ['unknown-field', 'every field is declared by its schema'],
  ...RULES.map((rule) => [rule.name, rule.description]),
]
  .map(([name, description]) => `  ${name.padEnd(25)}${description}`)
  .join('\n')}
`;

/** Runs the CLI with the given arguments; returns the exit status. */
export async function main(
  argv: string[],
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  err: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number> {
  let positionals: string[];
  let values: {
    overlay?: string[];
    root?: string;
    'secret-keys'?: string;
    kubectl?: string;
    help?: boolean;
  };
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: {
        overlay: { type: 'string', multiple: true },
        root: { type: 'string' },
        'secret-keys': { type: 'string' },
        kubectl: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    }));
  } catch (error) {
    err(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    out(HELP);
    return 0;
  }
  let results: Awaited<ReturnType<typeof validateOverlays>>;
  try {
    results = await validateOverlays({
      root: values.root ?? DEFAULT_ROOT,
      overlays: [...(values.overlay ?? []), ...positionals],
      secretKeysFile: values['secret-keys'],
      kubectl: values.kubectl,
    });
  } catch (error) {
    err(`validate-manifests: ${(error as Error).message}`);
    return 2;
  }
  let count = 0;
  for (const result of results) {
    for (const problem of result.problems) {
      out(formatProblem(problem));
      count++;
    }
  }
  const summary = results
    .map((result) => `${result.overlay} (${result.objects.length} objects)`)
    .join(', ');
  if (count > 0) {
    err(`${count} problem${count === 1 ? '' : 's'} in ${summary}`);
    return 1;
  }
  err(`valid: ${summary}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
