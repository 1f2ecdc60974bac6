import { AppError } from '../../src/domain/errors.ts';
import { serveTasks } from '../../src/lib/worker-pool.ts';

/** The worker of test/lib/worker-pool.test.ts: tasks that answer, fail, crash, spin or wait. */
serveTasks({
  double: (n: number) => n * 2,
  bytes: (n: number) => new Uint8Array(n).fill(7),
  usage: (message: string) => {
    throw new AppError('usage', message);
  },
  crash: () => {
    process.exit(3);
  },
  spin: () => {
    for (;;) {
      // never answers: only terminate() ends it
    }
  },
  wait: (ms: number) => new Promise((resolve) => setTimeout(() => resolve(ms), ms)),
  thread: async () => (await import('node:worker_threads')).threadId,
});
