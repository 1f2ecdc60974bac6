import { MemoryStore } from '../../src/store/memory-store.ts';
import { ALERT_STALE_MS, STALE_MS, storeContract } from './contract.ts';

storeContract('MemoryStore', {
  open: async () => new MemoryStore({ staleClaimMs: STALE_MS, alertStaleClaimMs: ALERT_STALE_MS }),
});
