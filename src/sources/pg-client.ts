import { createRequire } from 'node:module';
import type pg from 'pg';

const require = createRequire(import.meta.url);
let loaded: typeof pg | undefined;

/**
 * node-postgres, loaded when the first database connection is made (some 13 MB of memory that a
 * bot without a database, or the local console, does not need). The sources and the store use it.
 */
export function pgClient(): typeof pg {
  loaded ??= require('pg') as typeof pg;
  return loaded;
}
