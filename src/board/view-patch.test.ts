import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyViewDelta, viewDelta } from './view-patch.ts';

// Shaped like the board's view: keyed lists whose keys may repeat or be missing (a feed of several
// decisions about one booking, a decision about no booking), maps by uid, nested objects, nulls.
const item = fc.record({
  id: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
  uid: fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: null }),
  label: fc.string({ maxLength: 6 }),
  state: fc.constantFrom('sending', 'queued', 'free', 'in_use'),
  times: fc.array(fc.integer(), { maxLength: 3 }),
});
const room = fc.record({
  name: fc.constantFrom('1A', '2A', '3B', '4C'),
  bookings: fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 4 }),
  next: fc.option(fc.constantFrom('a', 'b'), { nil: null }),
  blocks: fc.array(item, { maxLength: 2 }),
});
const view = fc.record({
  at: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  groups: fc.array(
    fc.record({
      building: fc.constantFrom('North', 'South'),
      floor: fc.integer({ min: 0, max: 2 }),
      rooms: fc.array(room, { maxLength: 4 }),
    }),
    { maxLength: 3 },
  ),
  bookings: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), item),
  feed: fc.array(item, { maxLength: 8 }),
  attention: fc.record({
    writeBacks: fc.array(fc.record({ job: fc.constantFrom('job_1', 'job_2', 'job_3'), state: fc.string() }), { maxLength: 4 }),
  }),
});

describe('board view patches', () => {
  it('turn the view they were made from into exactly the next one, leaving it as it was', () => {
    fc.assert(
      fc.property(view, view, (before, after) => {
        const copy = structuredClone(before);
        const delta = viewDelta(before, after);
        if (delta === undefined) expect(after).toEqual(before);
        else expect(applyViewDelta(before, delta)).toEqual(after);
        expect(before).toEqual(copy);
      }),
      { numRuns: 2000 },
    );
  });

  it('say a new decision at the top of the feed without repeating the forty below it', () => {
    const feed = Array.from({ length: 40 }, (_, i) => ({ id: 100 - i, uid: `u${i}`, text: 'Room 1A: nearest free room for the doctor' }));
    const before = { feed };
    const after = { feed: [{ id: 101, uid: 'u0', text: 'Room 2A: the doctor’s preferred room' }, ...feed.slice(0, 39)] };
    const delta = viewDelta(before, after)!;
    expect(applyViewDelta(before, delta)).toEqual(after);
    expect(JSON.stringify(delta).length).toBeLessThan(JSON.stringify(after).length / 10);
  });
});
