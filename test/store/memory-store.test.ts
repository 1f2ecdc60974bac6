import { MemoryStore } from '../../src/store/memory-store.ts';
import { STALE_MS, storeContract } from './contract.ts';

storeContract('MemoryStore', { open: async () => new MemoryStore({ staleClaimMs: STALE_MS }) });
