import { serveTasks } from '../../lib/worker-pool.ts';
import { ANALYSIS_TASKS } from './analyzer.ts';

/** The worker thread of pooled-analyzer.ts: serves the profiling steps' analysis tasks. */
serveTasks(ANALYSIS_TASKS);
