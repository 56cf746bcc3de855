/**
 * The version of the installed package, read at run time from its `package.json` (the first one
 * named `mediasock` above this file): the same answer from `src/` under tsx, from the built
 * `dist/src/` and from `node_modules/mediasock` after an install.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Directories searched upwards from this file (dist/src/cli is three below the package root). */
const MAX_LEVELS = 8;

/** The `version` field of mediasock's package.json; throws when it cannot be found. */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < MAX_LEVELS; i++) {
    let text: string | undefined;
    try {
      text = readFileSync(join(dir, 'package.json'), 'utf8');
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      const pkg = JSON.parse(text) as { name?: unknown; version?: unknown };
      if (pkg.name === 'mediasock' && typeof pkg.version === 'string') return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(
    `cannot find the package.json of mediasock above ${dirname(fileURLToPath(import.meta.url))}`,
  );
}
