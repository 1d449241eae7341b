import type { Command } from 'commander';
import type { FlagValue } from '../app/config.js';

/**
 * The configuration overlay of a parsed command's flags: for each option attribute in `keys`,
 * its value under the configuration key, named by its flag. A value commander took from its
 * default ranks below the file and environment; one from a flag's own variable (`.env()`)
 * ranks as the flag.
 *
 * @example
 * const flags = flagOverlay(command, { metadata: ['stores.metadata', '--metadata'] });
 */
export function flagOverlay(
  command: Command,
  keys: Record<string, readonly [key: string, flag: string]>,
): FlagValue[] {
  const out: FlagValue[] = [];
  for (const [attribute, [key, flag]] of Object.entries(keys)) {
    const source = command.getOptionValueSource(attribute);
    if (source === undefined) continue;
    out.push({
      key,
      value: command.getOptionValue(attribute),
      flag,
      isDefault: source === 'default',
    });
  }
  return out;
}
