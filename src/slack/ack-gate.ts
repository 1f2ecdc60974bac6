/**
 * "Acknowledge first": work that follows an ack waits until no Slack request is being answered (or
 * at most maxWaitMs), so that under a burst of commands every ack goes out before the work of the
 * first ones takes the event loop. The receiver reports requests entering and leaving.
 */
export interface AckGate {
  /** A request arrived; call the returned function once it has been answered. */
  enter(): () => void;
  /** Resolves once no request is being answered, or after maxWaitMs at the latest. */
  idle(maxWaitMs: number): Promise<void>;
}

export function createAckGate(): AckGate {
  let active = 0;
  const waiters = new Set<() => void>();
  const release = () => {
    for (const w of [...waiters]) w();
  };
  return {
    enter() {
      active += 1;
      let left = false;
      return () => {
        if (left) return;
        left = true;
        active -= 1;
        if (active === 0) setImmediate(release);
      };
    },
    idle(maxWaitMs) {
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, maxWaitMs);
        waiters.add(done);
        if (active === 0) setImmediate(() => (active === 0 ? done() : undefined));
      });
    },
  };
}
