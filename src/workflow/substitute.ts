import { InvalidArgumentError } from '../core/errors.js';

/** Parameters every task can refer to, whatever the workflow declares. */
export const BUILT_IN_PARAMETERS = Object.freeze(['logical_date', 'run_id', 'workflow', 'task', 'attempt'] as const);

const REFERENCE = /\$\{([^}]*)\}/g;

/** The parameter names `${…}` references in `template` use (`$${` is a literal `${`). */
export function parameterReferences(template: string): string[] {
  const names: string[] = [];
  for (const m of template.replaceAll('$${', '').matchAll(REFERENCE)) names.push(m[1].trim());
  return names;
}

/**
 * Replaces each `${name}` in `template` with `values[name]`; `$${` stays a literal `${`. An unknown
 * name is an error naming it (validation catches these before a run, this is the last guard).
 */
export function substitute(template: string, values: Readonly<Record<string, string | number | boolean>>, field = 'template'): string {
  const parts = template.split('$${');
  return parts
    .map((part) =>
      part.replace(REFERENCE, (_, raw: string) => {
        const name = raw.trim();
        if (!Object.hasOwn(values, name)) throw new InvalidArgumentError(field, `unknown parameter \${${name}}`);
        return String(values[name]);
      }),
    )
    .join('${');
}
