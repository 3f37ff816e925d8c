import { declineMessage } from '../domain/decline-message.ts';
import type { GateReason } from '../domain/gate-policy.ts';
import { expectedSendTimes, type EtaBucket } from '../domain/write-back-eta.ts';
import type { Delta } from 'jsondiffpatch';
import { LiveRoomBoard, type BoardBooking, type BoardRoom, type BookingPresenter } from '../rooms/room-board.ts';
import { getBookings } from '../store/bookings.ts';
import type { Db, Queryable } from '../store/db.ts';
import { listDecisions } from '../store/decisions.ts';
import { listHeldBookings } from '../store/gate-decisions.ts';
import { listInboxEvents } from '../store/inbox.ts';
import { listJobs, listQueuedJobs } from '../store/jobs.ts';
import { readRateLog, WINDOW_MARGIN_MS } from '../store/rate-budget.ts';
import { listWaiting } from '../store/rooms.ts';
import { decisionText, waitingText } from '../operations/reason-text.ts';
import { viewDelta } from './view-patch.ts';

export interface BoardDeps {
  timeZone: string;
  title: string;
  present: BookingPresenter;
  /** The rate buckets a job of this kind draws from (CalRateLimiter.bucketsFor), for the estimates. */
  bucketsFor(jobKind: string): { key: string; limit: number; windowSeconds: number }[];
}

export type ViewRoom = Omit<BoardRoom, 'day' | 'next'> & { blocks: BoardRoom['day']['blocks']; bookings: string[]; next: string | null };

export interface WriteBack {
  job: string;
  kind: string;
  uid: string | null;
  label: string;
  /** `sending` now, or `queued` with the time the rate budget lets it out. */
  state: 'sending' | 'queued';
  expectedAt: string;
  attempts: number;
  lastError: string | null;
}

export interface BoardView {
  at: string;
  timeZone: string;
  title: string;
  /** Rooms name their bookings by uid; each booking is sent once, in `bookings`. */
  groups: { building: string; floor: number; rooms: ViewRoom[] }[];
  /** Every booking the view mentions, by uid, with its write-back when Cal.com is behind. */
  bookings: Record<string, BoardBooking & { writeBack?: { expectedAt: string; state: string } }>;
  attention: {
    waiting: { uid: string; label: string; start: string; end: string; why: string }[];
    held: { uid: string; label: string; start: string; why: string; member: string | null }[];
    writeBacks: WriteBack[];
    dead: { ref: string; what: string; uid: string | null; error: string | null; at: string }[];
  };
  feed: { id: number; at: string; kind: string; outcome: string; uid: string | null; label: string | null; text: string }[];
}

const JOB_LABEL: Record<string, string> = {
  'cal.location': 'room to Cal.com',
  'cal.confirm': 'confirm in Cal.com',
  'cal.decline': 'decline in Cal.com',
  'cal.cancel': 'cancel in Cal.com',
  'cal.check_series': 'check the rest of a series in Cal.com',
};

/**
 * The board's views, one after another, for a live feed: the rooms part is kept between views
 * (LiveRoomBoard reads only the bookings written since the last view), and a room shown exactly as
 * before is the same object as before, so boardViewDelta finds what changed by identity first.
 */
export class BoardViews {
  readonly #deps: BoardDeps;
  readonly #rooms: LiveRoomBoard;
  readonly #shownRooms = new Map<string, ViewRoom>();

  constructor(deps: BoardDeps) {
    this.#deps = deps;
    this.#rooms = new LiveRoomBoard({ timeZone: deps.timeZone, present: deps.present });
  }

  /** Everything the board page shows at `at`. */
  async view(db: Db, at: Date): Promise<BoardView> {
    return assemble(db, this.#deps, at, this.#rooms.read(db, at), (room) => {
      const kept = this.#shownRooms.get(room.name);
      if (kept && sameUpTo(kept, room, 3)) return kept;
      this.#shownRooms.set(room.name, room);
      return room;
    });
  }
}

/**
 * Equal as JSON, looking `depth` levels down (a room's blocks are objects in a list in the room);
 * anything deeper must be the same object. Identity first: LiveRoomBoard keeps what did not change.
 */
function sameUpTo(a: unknown, b: unknown, depth: number): boolean {
  if (a === b) return true;
  if (depth === 0 || typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  if (ak.length !== bk.length) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  return ak.every((k) => Object.hasOwn(y, k) && sameUpTo(x[k], y[k], depth - 1));
}

/** Everything the board page shows at `at`, read once (a day's view for the insights page, a test). */
export async function boardView(db: Db, deps: BoardDeps, at: Date): Promise<BoardView> {
  return new BoardViews(deps).view(db, at);
}

async function assemble(
  db: Queryable,
  deps: BoardDeps,
  at: Date,
  roomsRead: ReturnType<LiveRoomBoard['read']>,
  keep: (room: ViewRoom) => ViewRoom,
): Promise<BoardView> {
  const [board, waiting, held, queued, deadJobs, deadEvents, unreadable, decisions] = await Promise.all([
    roomsRead,
    listWaiting(db, at, 100),
    listHeldBookings(db, 100),
    listQueuedJobs(db, 'cal.', 500),
    listJobs(db, { state: 'dead', limit: 50 }),
    listInboxEvents(db, { state: 'dead', limit: 50 }),
    // Signed by Cal.com but never handleable as received (issue 16): someone has to look at them.
    listInboxEvents(db, { state: 'unprocessable', limit: 50 }),
    listDecisions(db, { kinds: ['gate', 'room'], limit: 40 }),
  ]);
  const known = new Map<string, BoardBooking>();
  for (const room of board.rooms) for (const b of [...room.day.bookings, ...(room.next ? [room.next] : [])]) known.set(b.uid, b);
  for (const b of board.waiting) known.set(b.uid, b);
  const others = [
    ...new Set([
      ...waiting.map((w) => w.bookingUid),
      ...held.map((h) => h.bookingUid),
      ...[...queued, ...deadJobs].flatMap((j) => (j.bookingUid ? [j.bookingUid] : [])),
      ...decisions.flatMap((d) => (d.bookingUid ? [d.bookingUid] : [])),
    ]),
  ].filter((uid) => !known.has(uid));
  const extra = await getBookings(db, others);
  const label = (uid: string | null): string => {
    if (!uid) return '';
    const shown = known.get(uid);
    if (!shown) return deps.present.label(extra.get(uid));
    return shown.who ? `${shown.title} · ${shown.who}` : (shown.title ?? 'Booking');
  };

  const writeBacks = await estimateWriteBacks(db, deps, queued, at, label);
  const bookings: BoardView['bookings'] = {};
  for (const [uid, b] of known) bookings[uid] = b;
  for (const w of writeBacks) {
    const b = w.uid ? bookings[w.uid] : undefined;
    if (b && w.kind === 'cal.location') bookings[w.uid!] = { ...b, writeBack: { expectedAt: w.expectedAt, state: w.state } };
  }

  const groups = new Map<string, BoardView['groups'][number]>();
  for (const room of board.rooms) {
    const key = `${room.building}\u0000${room.floor}`;
    let g = groups.get(key);
    if (!g) {
      g = { building: room.building, floor: room.floor, rooms: [] };
      groups.set(key, g);
    }
    const { day, next, ...rest } = room;
    g.rooms.push(keep({ ...rest, blocks: day.blocks, bookings: day.bookings.map((b) => b.uid), next: next?.uid ?? null }));
  }
  return {
    at: at.toISOString(),
    timeZone: deps.timeZone,
    title: deps.title,
    groups: [...groups.values()].sort((x, y) => x.building.localeCompare(y.building) || x.floor - y.floor),
    bookings,
    attention: {
      waiting: waiting.map((w) => {
        const b = known.get(w.bookingUid) ?? extra.get(w.bookingUid);
        return {
          uid: w.bookingUid,
          label: label(w.bookingUid),
          start: (b ? new Date(b.start) : w.from).toISOString(),
          end: (b ? new Date(b.end) : w.to).toISOString(),
          why: waitingText(w.reasons),
        };
      }),
      held: held.map((h) => ({
        uid: h.bookingUid,
        label: label(h.bookingUid),
        start: h.start.toISOString(),
        why: declineMessage(h.reasons as unknown as GateReason[], {}),
        member: h.memberEmail ? maskEmail(h.memberEmail, deps.present.showNames) : null,
      })),
      writeBacks,
      dead: [
        ...deadJobs.map((j) => ({
          ref: `job_${j.id}`,
          what: `${j.bookingUid ? `${label(j.bookingUid)} — ` : ''}${jobWhat(j)}`,
          uid: j.bookingUid,
          error: j.lastError,
          at: (j.finishedAt ?? j.createdAt).toISOString(),
        })),
        ...deadEvents.map((e) => ({
          ref: `evt_${e.id}`,
          what: `${e.trigger} from Cal.com`,
          uid: e.bookingUid,
          error: e.lastError,
          at: (e.finishedAt ?? e.receivedAt).toISOString(),
        })),
        ...unreadable.map((e) => ({
          ref: `evt_${e.id}`,
          what: `${e.trigger} from Cal.com, which Usher cannot read`,
          uid: e.bookingUid,
          error: e.lastError,
          at: (e.finishedAt ?? e.receivedAt).toISOString(),
        })),
      ],
    },
    feed: decisions.map((d) => ({
      id: d.id,
      at: d.decidedAt.toISOString(),
      kind: d.kind,
      outcome: d.outcome,
      uid: d.bookingUid,
      label: d.bookingUid ? label(d.bookingUid) : null,
      text: decisionText(d),
    })),
  };
}

function jobWhat(j: { kind: string; payload: Record<string, unknown> }): string {
  if (j.kind === 'automation.deliver') return `automation "${String(j.payload.automation)}" (${String(j.payload.event)})`;
  return JOB_LABEL[j.kind] ?? j.kind;
}

/** `a…@example.com` unless names are shown: enough for the desk to tell members apart. */
function maskEmail(email: string, show: boolean): string {
  if (show) return email;
  const at = email.indexOf('@');
  return at > 0 ? `${email[0]}…${email.slice(at)}` : '…';
}

async function estimateWriteBacks(
  db: Queryable,
  deps: BoardDeps,
  queued: Awaited<ReturnType<typeof listQueuedJobs>>,
  at: Date,
  label: (uid: string | null) => string,
): Promise<WriteBack[]> {
  if (queued.length === 0) return [];
  const bucketsByKind = new Map(queued.map((j) => [j.kind, deps.bucketsFor(j.kind)]));
  const limits = new Map([...bucketsByKind.values()].flat().map((b) => [b.key, b]));
  const longest = Math.max(...[...limits.values()].map((b) => b.windowSeconds)) * 1000 + WINDOW_MARGIN_MS;
  const log = await readRateLog(db, [...limits.keys()], new Date(at.getTime() - longest));
  const buckets: EtaBucket[] = [...limits.values()].map((b) => {
    const l = log.get(b.key)!;
    return {
      key: b.key,
      limit: b.limit,
      windowMs: b.windowSeconds * 1000 + WINDOW_MARGIN_MS,
      recentCalls: l.calls.map((c) => c.getTime()),
      ...(l.blockedUntil ? { blockedUntil: l.blockedUntil.getTime() } : {}),
    };
  });
  const pending = queued.filter((j) => j.state === 'pending');
  const eta = expectedSendTimes(
    pending.map((j) => ({ id: j.id, runAt: new Date(j.runAt).getTime(), buckets: bucketsByKind.get(j.kind)!.map((b) => b.key) })),
    buckets,
    at.getTime(),
  );
  return queued.map((j) => ({
    job: `job_${j.id}`,
    kind: j.kind,
    uid: j.bookingUid,
    label: `${j.bookingUid ? `${label(j.bookingUid)} — ` : ''}${j.kind === 'cal.location' && typeof j.payload.address === 'string' ? `${j.payload.address.split(' — ')[0]} to Cal.com` : (JOB_LABEL[j.kind] ?? j.kind)}`,
    state: j.state === 'running' ? 'sending' : 'queued',
    expectedAt: new Date(eta.get(j.id) ?? at.getTime()).toISOString(),
    attempts: j.attempts,
    lastError: j.lastError,
  }));
}

/**
 * How one view of the board became the next, as a jsondiffpatch delta (what the page applies,
 * view-patch.ts), worked out by parts: a room or booking that is the same object as before
 * (BoardViews keeps them) is skipped without a look, the others are diffed one by one, and so are
 * the small parts (attention, feed). At 300 rooms diffing the whole ~800 KB view took ~20 ms;
 * this is ~1 ms. When the rooms themselves differ (added, removed, moved between floors) the
 * groups are diffed whole. Applied to `before`, the delta gives exactly `after` (board-feed.test.ts).
 */
export function boardViewDelta(before: BoardView, after: BoardView): Delta | undefined {
  const { groups: bg, bookings: bb, ...beforeRest } = before;
  const { groups: ag, bookings: ab, ...afterRest } = after;
  const delta: Record<string, unknown> = { ...(viewDelta(beforeRest, afterRest) as object | undefined) };
  const groups = groupsDelta(bg, ag);
  if (groups) delta.groups = groups;
  const bookings: Record<string, unknown> = {};
  for (const [uid, b] of Object.entries(ab)) {
    const old = bb[uid];
    if (old === undefined) bookings[uid] = [b];
    else if (old !== b) {
      const d = viewDelta(old, b);
      if (d) bookings[uid] = d;
    }
  }
  for (const [uid, old] of Object.entries(bb)) if (!(uid in ab)) bookings[uid] = [old, 0, 0];
  if (Object.keys(bookings).length > 0) delta.bookings = bookings;
  return Object.keys(delta).length > 0 ? (delta as Delta) : undefined;
}

function groupsDelta(before: BoardView['groups'], after: BoardView['groups']): Delta | undefined {
  const sameShape =
    before.length === after.length &&
    before.every((g, i) => {
      const h = after[i]!;
      return (
        g.building === h.building &&
        g.floor === h.floor &&
        g.rooms.length === h.rooms.length &&
        g.rooms.every((r, j) => r.name === h.rooms[j]!.name)
      );
    });
  if (!sameShape) return viewDelta(before, after);
  // An array delta (jsondiffpatch: `_t: 'a'`) whose keys are the indexes of items changed in place.
  const outer: Record<string, unknown> = {};
  after.forEach((g, i) => {
    const inner: Record<string, unknown> = {};
    g.rooms.forEach((room, j) => {
      const old = before[i]!.rooms[j]!;
      if (old === room) return;
      const d = viewDelta(old, room);
      if (d) inner[j] = d;
    });
    if (Object.keys(inner).length > 0) outer[i] = { rooms: { _t: 'a', ...inner } };
  });
  return Object.keys(outer).length > 0 ? ({ _t: 'a', ...outer } as Delta) : undefined;
}
