import { readFile } from 'node:fs/promises';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

/**
 * A clean `npm install` must print no warning a user would worry about. npm warns for two
 * things we control from package.json: a locked package whose `engines.node` excludes the Node
 * version we support (EBADENGINE), and a dependency with an install script that `allowScripts`
 * neither approves nor denies. Both are read from the lockfile, so the test needs no network.
 */
interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
  hasInstallScript?: boolean;
  dev?: boolean;
}

const pkg = JSON.parse(await readFile('package.json', 'utf8')) as {
  engines: { node: string };
  allowScripts?: Record<string, boolean>;
};
const lock = JSON.parse(await readFile('package-lock.json', 'utf8')) as {
  packages: Record<string, LockedPackage>;
};

/** The package name of a lockfile key such as `node_modules/a/node_modules/@b/c`. */
function nameOf(key: string): string {
  return key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
}

describe('npm install', () => {
  it('locks no package whose engines exclude the oldest Node version kiban supports', () => {
    const oldest = semver.minVersion(pkg.engines.node);
    expect(oldest, `package.json engines.node ${pkg.engines.node}`).not.toBeNull();
    // Every Node 20 release from the first kiban supports must satisfy every locked package.
    const supported = [oldest!.version, process.version.slice(1)];
    const excluding: string[] = [];
    for (const [key, entry] of Object.entries(lock.packages)) {
      if (key === '' || entry.engines === undefined || Array.isArray(entry.engines)) continue;
      const range = entry.engines.node;
      if (range === undefined) continue;
      for (const version of supported) {
        if (!semver.satisfies(version, range, { includePrerelease: true })) {
          excluding.push(`${nameOf(key)}@${entry.version} needs node ${range} (not ${version})`);
        }
      }
    }
    expect(excluding).toEqual([]);
  });

  it('names every dependency with an install script in allowScripts (approved or denied)', () => {
    const allow = pkg.allowScripts ?? {};
    const unreviewed = Object.entries(lock.packages)
      .filter(([key, entry]) => key !== '' && entry.hasInstallScript === true)
      .map(([key, entry]) => ({ name: nameOf(key), version: entry.version }))
      .filter(({ name, version }) => !(name in allow) && !(`${name}@${version}` in allow))
      .map(({ name, version }) => `${name}@${version}`);
    expect(unreviewed).toEqual([]);
  });
});
