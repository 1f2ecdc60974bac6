import type { Config } from '../config/load.ts';
import { MemoryStore } from './memory-store.ts';
import { PostgresStore } from './postgres-store.ts';
import type { Store } from './types.ts';

export { MemoryStore, type MemoryStoreOptions } from './memory-store.ts';
export {
  MIGRATIONS,
  type Migration,
  PostgresStore,
  type PostgresStoreOptions,
  STORE_SCHEMA,
} from './postgres-store.ts';
export type * from './types.ts';
export {
  DEFAULT_ALERT_STALE_CLAIM_MS,
  DEFAULT_STALE_CLAIM_MS,
  MAX_CAPTURE_BYTES,
  MAX_CAPTURES_PER_POD,
} from './types.ts';

/**
 * The store the configuration asks for: PostgreSQL when `store.database_url_env` names a set variable
 * (migrations applied before this resolves), else the embedded MemoryStore for one process
 * (`warn` is told why that is not for more than one replica).
 */
export async function createStore(
  config: Config,
  warn: (message: string) => void = () => {},
): Promise<Store> {
  const url = config.secrets.storeDatabaseUrl;
  const alertStaleClaimMs = config.alerts?.stale_claim;
  if (url) return PostgresStore.open({ url, ...(alertStaleClaimMs ? { alertStaleClaimMs } : {}) });
  warn(
    'no store configured (store.database_url_env): using the embedded store. It serves ONE bot process: ' +
      'replicas would not share once-only keys, approvals or reminders, and the audit log is lost on restart.',
  );
  return new MemoryStore(alertStaleClaimMs ? { alertStaleClaimMs } : {});
}
