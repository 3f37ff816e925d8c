import type { Logger } from 'pino';

/** How long an orderly stop after a fault may take before the process ends anyway. */
const FAULT_STOP_MS = 10_000;

/**
 * Stops a running Usher in order — no new work, what is in hand finished, the embedded PostgreSQL
 * stopped — on SIGTERM or SIGINT (exit 0), and on a fault in Usher itself: a rejection nobody
 * handled or an exception nobody caught, logged with its error, then the same stop and exit 1 for
 * the supervisor to start it again. Node's own way with such a fault is to end at once: webhooks
 * being received are cut off unanswered (Cal.com does not send them again, CONTRACT §2.3) and the
 * embedded server is left running for the next start to adopt. A stop after a fault that hangs
 * ends the process after FAULT_STOP_MS.
 */
export function stopInOrder(close: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const stop = (why: string, code: 0 | 1) => {
    if (stopping) return;
    stopping = true;
    if (code !== 0) setTimeout(() => process.exit(1), FAULT_STOP_MS).unref();
    log.info({ why }, 'stopping: no new work, finishing what is in hand');
    close().then(
      () => process.exit(code),
      (error: unknown) => {
        log.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  const fault = (kind: string) => (error: unknown) => {
    log.fatal({ err: error }, `${kind}: a fault in Usher itself; stopping, then exit 1`);
    stop(kind, 1);
  };
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('unhandledRejection', fault('a rejection nobody handled'));
  process.on('uncaughtException', fault('an exception nobody caught'));
}
