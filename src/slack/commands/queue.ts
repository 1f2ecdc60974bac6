/**
 * Serializes updates of one message, keeping only the newest pending one: progress never races the
 * final report, and a burst of progress costs at most one call in flight plus one waiting.
 */
export function latestWins<M>(
  send: (m: M) => Promise<unknown>,
  onError: (error: unknown) => void,
): { push(m: M): void; close(): Promise<void> } {
  let pending: { m: M } | undefined;
  let running: Promise<void> | undefined;
  let closed = false;
  const pump = async () => {
    while (pending) {
      const { m } = pending;
      pending = undefined;
      try {
        await send(m);
      } catch (error) {
        onError(error);
      }
    }
    running = undefined;
  };
  return {
    push(m) {
      if (closed) return;
      pending = { m };
      running ??= pump();
    },
    async close() {
      closed = true;
      pending = undefined;
      await running;
    },
  };
}
