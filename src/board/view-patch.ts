import { create, type Delta } from 'jsondiffpatch';

/**
 * The board's live view travels whole once, on connect, and after that as deltas (jsondiffpatch):
 * at 300 rooms a view is ~800 KB of JSON, a booking made or moved changes a few hundred bytes of it.
 * Used on both sides, so that what the server diffs is what the page patches.
 *
 * Items in the view's lists are matched by what they are, not where they are (a new decision at the
 * top of the feed is one insertion, not forty changes): a write-back by its job, a dead item by its
 * reference, a decision or block by id, a booking by uid, a room by name, a floor by building and
 * number. The match only makes a delta smaller; applied to the view it was made from, any delta
 * gives exactly the new view (view-patch.test.ts).
 */
const patcher = create({
  objectHash: (item: object, index?: number) => {
    const x = item as Record<string, unknown>;
    const key =
      x.job ?? x.ref ?? x.id ?? x.uid ?? x.name ?? (x.building !== undefined ? `${String(x.building)}|${String(x.floor)}` : undefined);
    return key !== undefined && key !== null ? String(key) : `$$index:${index}`;
  },
  arrays: { detectMove: true, includeValueOnMove: false },
});

/** What the feed sends on connect: the whole view and its number. */
export interface WholeViewMessage<V> {
  version: number;
  view: V;
}

/** What the feed sends after a change: how view `from` becomes view `to`. */
export interface ViewPatchMessage {
  from: number;
  to: number;
  delta: Delta;
}

/** The delta from one view to the next; undefined when nothing differs. */
export function viewDelta(before: unknown, after: unknown): Delta | undefined {
  return patcher.diff(before, after);
}

/** The next view from this one and a delta made from it (this one is left as it was). */
export function applyViewDelta<V>(view: V, delta: Delta): V {
  return patchViewInPlace(structuredClone(view), delta);
}

/** `view` made into the next view by a delta made from it, in place (a copy no one else holds). */
export function patchViewInPlace<V>(view: V, delta: Delta): V {
  return patcher.patch(view, delta) as V;
}
