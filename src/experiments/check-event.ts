import { InvalidArgumentError } from '../core/errors.js';
import { checkName } from './experiment.js';
import type { ExperimentEvent } from './experiment-store.js';

/** Event ids: letters, digits and `._:-`, 1 to 128 characters (a UUID, or the sender's own key). */
export const EVENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const TYPES: ReadonlySet<string> = new Set(['exposure', 'conversion', 'value']);
const FIELDS: ReadonlySet<string> = new Set([
  'eventId',
  'type',
  'experiment',
  'unit',
  'variant',
  'metric',
  'value',
  'time',
]);

/** Refuses an event that would not store and read back as sent, naming `field.member`. */
export function checkEvent(e: ExperimentEvent, field: string): ExperimentEvent {
  if (typeof e.eventId !== 'string' || !EVENT_ID.test(e.eventId))
    throw new InvalidArgumentError(
      `${field}.eventId`,
      `must be 1 to 128 letters, digits or "._:-", got ${JSON.stringify(e.eventId)}`,
    );
  if (!TYPES.has(e.type))
    throw new InvalidArgumentError(
      `${field}.type`,
      `must be exposure, conversion or value, got ${JSON.stringify(e.type)}`,
    );
  checkName(e.experiment, `${field}.experiment`);
  if (typeof e.unit !== 'string' || e.unit.length === 0 || e.unit.length > 200)
    throw new InvalidArgumentError(`${field}.unit`, 'must be a string of 1 to 200 characters');
  if (e.type === 'exposure') {
    checkName(e.variant, `${field}.variant`);
    if (e.metric !== null)
      throw new InvalidArgumentError(
        `${field}.metric`,
        'is for conversion and value events, not exposures',
      );
    if (e.value !== null)
      throw new InvalidArgumentError(`${field}.value`, 'is for value events, not exposures');
  } else {
    checkName(e.metric, `${field}.metric`);
    if (e.variant !== null)
      throw new InvalidArgumentError(
        `${field}.variant`,
        'is for exposures (a conversion belongs to the variant its unit was exposed to)',
      );
    if (e.type === 'value' && (typeof e.value !== 'number' || !Number.isFinite(e.value)))
      throw new InvalidArgumentError(
        `${field}.value`,
        `must be a finite number for a value event, got ${JSON.stringify(e.value)}`,
      );
    if (e.type === 'conversion' && e.value !== 1)
      throw new InvalidArgumentError(
        `${field}.value`,
        'is 1 for a conversion (send a value event for amounts)',
      );
  }
  if (!(e.time instanceof Date) || !Number.isFinite(e.time.getTime()))
    throw new InvalidArgumentError(`${field}.time`, 'must be a valid time');
  return e;
}

/**
 * An event from JSON (`POST /v1/events`): `{eventId, type, experiment, unit, variant?, metric?,
 * value?, time?}` with `time` an ISO-8601 string or epoch milliseconds (default: `now`), and
 * `value` defaulting to 1 for conversions. @throws InvalidArgumentError naming `field.member`.
 */
export function parseEvent(input: unknown, field: string, now: Date = new Date()): ExperimentEvent {
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new InvalidArgumentError(field, 'must be an object');
  const e = input as Record<string, unknown>;
  for (const key of Object.keys(e))
    if (!FIELDS.has(key))
      throw new InvalidArgumentError(
        `${field}.${key}`,
        `is not a field of an event (known: ${[...FIELDS].join(', ')})`,
      );
  let time = now;
  if (e.time !== undefined) {
    time =
      typeof e.time === 'number'
        ? new Date(e.time)
        : typeof e.time === 'string'
          ? new Date(e.time)
          : new Date(Number.NaN);
    if (!Number.isFinite(time.getTime()))
      throw new InvalidArgumentError(
        `${field}.time`,
        `must be an ISO-8601 time or epoch milliseconds, got ${JSON.stringify(e.time)}`,
      );
  }
  const type = e.type as ExperimentEvent['type'];
  const event: ExperimentEvent = {
    eventId: e.eventId as string,
    type,
    experiment: e.experiment as string,
    unit: e.unit as string,
    variant: (e.variant ?? null) as string | null,
    metric: (e.metric ?? null) as string | null,
    value: (e.value ?? (type === 'conversion' ? 1 : null)) as number | null,
    time,
  };
  return checkEvent(event, field);
}
