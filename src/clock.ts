/**
 * Usher's one source of time.
 *
 * Every timestamp Usher writes or compares — when an event was received, when a job may run, when
 * a hold expires, when a room is free — comes from this injected clock and reaches SQL as a bound
 * parameter. The database's own clock (`now()`, `current_timestamp`, column defaults) is never used
 * for a value that a query compares: mixing the two clocks means a drift between the application's
 * and the database server's clocks delays work by the drift (several Usher processes on one
 * PostgreSQL server make that real), and a test's fake clock stops matching the rows it wrote.
 * Migration 0007 removed every `default now()`, so an insert that forgets a timestamp fails at once
 * instead of silently taking the database's time; `src/store/one-clock.test.ts` keeps it so.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
