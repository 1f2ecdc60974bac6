import { type Logger as BoltLogger, LogLevel } from '@slack/bolt';

/** The subset of pino the Slack layer logs through: structured fields first, message second. */
export interface Log {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

/** Bolt's own messages (receiver warnings, listener errors) go to the same log, tagged component=bolt. */
export function boltLogger(log: Log): BoltLogger {
  let level: LogLevel = LogLevel.INFO;
  let name = 'bolt';
  const text = (msgs: unknown[]) =>
    msgs
      .map((m) =>
        m instanceof Error ? (m.stack ?? m.message) : typeof m === 'string' ? m : JSON.stringify(m),
      )
      .join(' ');
  return {
    debug: (...msgs) => log.debug({ component: name }, text(msgs)),
    info: (...msgs) => log.info({ component: name }, text(msgs)),
    warn: (...msgs) => log.warn({ component: name }, text(msgs)),
    error: (...msgs) => log.error({ component: name }, text(msgs)),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: (n) => {
      name = n;
    },
  };
}
