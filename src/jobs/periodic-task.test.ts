import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../log.ts';
import { PeriodicTask } from './periodic-task.ts';

describe('PeriodicTask', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs one pass at a time, retries after a failure, and stop() waits for the pass in hand', async () => {
    const log = createLogger('silent');
    const warn = vi.spyOn(log, 'warn');
    let started = 0;
    let finish: (() => void) | undefined;
    let fail = true;
    const task = new PeriodicTask({
      name: 'the test pass',
      everyMs: 1000,
      log,
      run: async () => {
        started++;
        if (fail) {
          fail = false;
          throw new Error('store away');
        }
        await new Promise<void>((resolve) => {
          finish = resolve;
        });
      },
    });
    await vi.advanceTimersByTimeAsync(1000);
    expect(started).toBe(1);
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ err: expect.any(Error) }), 'the test pass failed; the next pass retries');
    await vi.advanceTimersByTimeAsync(1000);
    expect(started).toBe(2);
    // The second pass is still running: three more ticks start nothing.
    await vi.advanceTimersByTimeAsync(3000);
    expect(started).toBe(2);
    let stopped = false;
    const stopping = task.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    finish!();
    await stopping;
    expect(stopped).toBe(true);
    await vi.advanceTimersByTimeAsync(5000);
    expect(started).toBe(2);
  });
});
