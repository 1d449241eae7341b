import { InvalidArgumentError } from '../core/errors.js';

/** Parameters every task can refer to, whatever the workflow declares. */
export const BUILT_IN_PARAMETERS = Object.freeze([
  'logical_date',
  'run_id',
  'workflow',
  'task',
  'attempt',
] as const);

/** The environment variable each built-in parameter reaches shell tasks as. */
const BUILT_IN_VARIABLES: Readonly<Record<(typeof BUILT_IN_PARAMETERS)[number], string>> =
  Object.freeze({
    logical_date: 'KIBAN_LOGICAL_DATE',
    run_id: 'KIBAN_RUN_ID',
    workflow: 'KIBAN_WORKFLOW',
    task: 'KIBAN_TASK',
    attempt: 'KIBAN_ATTEMPT',
  });

/** Prefix of the environment variables that carry a run's declared parameters to shell tasks. */
export const PARAM_VARIABLE_PREFIX = 'KIBAN_PARAM_';

const REFERENCE = /\$\{([^}]*)\}/g;

type ParamValue = string | number | boolean;

/** The parameter names `${…}` references in `template` use (`$${` is a literal `${`). */
export function parameterReferences(template: string): string[] {
  const names: string[] = [];
  for (const m of template.replaceAll('$${', '').matchAll(REFERENCE)) names.push(m[1].trim());
  return names;
}

/**
 * The environment variable a parameter reaches shell tasks as: a built-in's own
 * (`logical_date` → `KIBAN_LOGICAL_DATE`), else `KIBAN_PARAM_` and the name upper-cased, with
 * any character other than a letter, digit or `_` as `_` (`heldOut` → `KIBAN_PARAM_HELDOUT`).
 */
export function parameterVariable(name: string): string {
  if (Object.hasOwn(BUILT_IN_VARIABLES, name))
    return BUILT_IN_VARIABLES[name as keyof typeof BUILT_IN_VARIABLES];
  return `${PARAM_VARIABLE_PREFIX}${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}

/**
 * The variables a shell task gets for a run's parameters (`KIBAN_PARAM_<NAME>`), values as
 * text; booleans and numbers as JavaScript prints them.
 */
export function parameterEnvironment(
  values: Readonly<Record<string, ParamValue>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(values))
    if (!Object.hasOwn(BUILT_IN_VARIABLES, name)) env[parameterVariable(name)] = String(value);
  return env;
}

/**
 * Why `${name}` may not appear in a `run:` command, with the environment-variable form to use:
 * a value pasted into a shell command would run as shell code (`x; rm -rf ~`).
 */
export function shellReferenceMessage(name: string): string {
  return `\${${name}} is not substituted in run commands (a value would run as shell code); use the environment variable "$${parameterVariable(name)}" (in double quotes), or write $\${ for a literal \${`;
}

/**
 * A `run:` command as the shell gets it: `$${` becomes a literal `${`, and any `${name}` is an
 * error (validation refuses them; this is the guard for runs recorded before that rule).
 * Parameters reach the command as environment variables, see {@link parameterEnvironment}.
 */
export function shellCommand(template: string, field: string): string {
  const [name] = parameterReferences(template);
  if (name !== undefined) throw new InvalidArgumentError(field, shellReferenceMessage(name));
  return template.replaceAll('$${', '${');
}

/**
 * Replaces each `${name}` in `template` with `values[name]`; `$${` stays a literal `${`. An unknown
 * name is an error naming it (validation catches these before a run, this is the last guard).
 */
export function substitute(
  template: string,
  values: Readonly<Record<string, ParamValue>>,
  field = 'template',
): string {
  const parts = template.split('$${');
  return parts
    .map((part) =>
      part.replace(REFERENCE, (_, raw: string) => {
        const name = raw.trim();
        if (!Object.hasOwn(values, name))
          throw new InvalidArgumentError(field, `unknown parameter \${${name}}`);
        return String(values[name]);
      }),
    )
    .join('${');
}

const WHOLE_REFERENCE = /^\$\{\s*([^}]+?)\s*\}$/;

/**
 * {@link substitute} through a JSON value (task params): every string is substituted, and a
 * string that is exactly one reference (`"${window_days}"`) takes the value itself, so a number
 * parameter arrives as a number. `field` names the value in errors (`tasks.a.params`).
 */
export function substituteDeep(
  value: unknown,
  values: Readonly<Record<string, ParamValue>>,
  field: string,
): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE_REFERENCE.exec(value);
    if (whole !== null && Object.hasOwn(values, whole[1])) return values[whole[1]];
    return substitute(value, values, field);
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteDeep(v, values, `${field}.${i}`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substituteDeep(v, values, `${field}.${k}`)]),
    );
  }
  return value;
}
