import { serveTasks } from '../../lib/worker-pool.ts';
import { ANALYSIS_TASKS } from './analyzer.ts';

/**
 * The worker thread of pooled-analyzer.ts: serves the profiling steps' analysis tasks, at a lower
 * priority than the main thread (an analysis may take seconds longer; an ack must not).
 */
serveTasks(ANALYSIS_TASKS, { nice: 10 });
