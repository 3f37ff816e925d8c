import type { Clock } from '../src/clock.ts';

/** A clock that moves only when the test says so (STYLE §10: never sleep for time to pass). */
export class FakeClock implements Clock {
  #now: number;

  constructor(start: Date | string = '2026-12-01T08:00:00.000Z') {
    this.#now = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  advance(ms: number): void {
    this.#now += ms;
  }

  set(at: Date | string): void {
    this.#now = new Date(at).getTime();
  }
}
