import { checkout } from '../bookings/checkout.ts';
import type { CalClient } from '../cal/api-client.ts';
import type { ReconcileResult } from '../cal/reconciler.ts';
import type { Config } from '../config.ts';
import { endOfLocalDate } from '../domain/calendar-period.ts';
import { UsherError } from '../errors.ts';
import type { GateDeps } from '../gate/decide-request.ts';
import { adjustCredits, decideByOperator, heldBookings, importMembers, memberAccount } from '../gate/gate-operations.ts';
import { parseMembersCsv } from '../gate/members-csv.ts';
import { calendarFeeds, createFeed, endFeed } from '../insights/calendar-feed.ts';
import { insightsReport } from '../insights/insights-report.ts';
import { whatIf } from '../insights/what-if.ts';
import { parseRef, replay } from '../jobs/replay.ts';
import {
  blockRoom,
  changeBlock,
  markCleaned,
  moveBooking,
  putRoom,
  replanUpcoming,
  retireRoom,
  unblockRoom,
} from '../rooms/room-operations.ts';
import { openMinutes } from '../rooms/room-config.ts';
import { RoomDayCache } from '../rooms/room-day-cache.ts';
import { holdRoomForApproval, type RoomDeps, roomOptionsFor } from '../rooms/room-planning.ts';
import type { Db } from '../store/db.ts';
import { getInboxEvent, listInboxEvents, type InboxState } from '../store/inbox.ts';
import { getJob, listJobs, type JobState } from '../store/jobs.ts';
import { listMembers, upsertMember } from '../store/members.ts';
import { listRooms } from '../store/rooms.ts';
import { bookingView } from './booking-view.ts';
import type { Operations } from './operations.ts';
import { presentReplan } from './present-replan.ts';
import { presentEvent, presentJob } from './present-work.ts';
import { presentRoomOption } from './reason-text.ts';

/** What the gate and the rooms need from the configuration, made in one place for every entry point. */
export function operationDeps(config: Config): { gate: GateDeps; rooms: RoomDeps } {
  const rooms: RoomDeps = {
    settings: config.roomSettings,
    timeZone: config.timeZone,
    maxAttempts: config.worker.maxAttempts,
    dayCache: new RoomDayCache(),
  };
  const gate: GateDeps = {
    settings: config.gate,
    timeZone: config.timeZone,
    maxAttempts: config.worker.maxAttempts,
    // gate.requireRoom: approving holds a room in the same transaction, or the booking is declined.
    ...(config.roomSettings.requireRoom ? { holdRoom: (trx, booking, now) => holdRoomForApproval(trx, rooms, booking, now) } : {}),
  };
  return { gate, rooms };
}

export interface LocalOperationsOptions {
  db: Db;
  config: Config;
  now: () => Date;
  /** Cal.com's client, made only when a command needs it (slots, book, reconcile). */
  cal: () => CalClient;
  reconcile: () => Promise<ReconcileResult>;
  /** Who did it when the caller does not say (the decision log's `by`). */
  actor: string;
  /** New work was written: a hint to this process's worker (other processes hear NOTIFY usher_work). */
  onChange?: () => void;
}

/** The operations on the store itself: behind the admin API's routes and the CLI beside the data. */
export function localOperations(o: LocalOperationsOptions): Operations {
  const { db } = o;
  const { gate, rooms } = operationDeps(o.config);
  const gated = new Set(Object.keys(o.config.gate.policies));
  const changed = <T>(value: T): T => {
    o.onChange?.();
    return value;
  };
  const expiry = (v: string | undefined) => {
    if (v === undefined) return undefined;
    return /^\d{4}-\d{2}-\d{2}$/.test(v) ? endOfLocalDate(v, o.config.timeZone) : new Date(v);
  };
  const roomChange = async <T extends { replan?: Parameters<typeof presentReplan>[0] }>(p: Promise<T>) => {
    const { replan, ...rest } = await p;
    return changed({ ...rest, plan: presentReplan(replan) });
  };

  return {
    listEvents: async (q) =>
      (
        await listInboxEvents(db, {
          ...(q.state ? { state: q.state as InboxState } : {}),
          ...(q.bookingUid ? { bookingUid: q.bookingUid } : {}),
          limit: q.limit,
        })
      ).map((e) => presentEvent(e)),
    async getEvent(ref) {
      const { id, table } = parseRef(ref);
      const event = table === 'event' ? await getInboxEvent(db, id) : undefined;
      if (!event) throw new UsherError('NOT_FOUND', `no event ${ref}`);
      return presentEvent(event, true);
    },
    listJobs: async (q) =>
      (
        await listJobs(db, {
          ...(q.state ? { state: q.state as JobState } : {}),
          ...(q.bookingUid ? { bookingUid: q.bookingUid } : {}),
          limit: q.limit,
        })
      ).map(presentJob),
    async getJob(ref) {
      const { id, table } = parseRef(ref);
      const job = table === 'job' ? await getJob(db, id) : undefined;
      if (!job) throw new UsherError('NOT_FOUND', `no job ${ref}`);
      return presentJob(job);
    },
    async replay(ref) {
      const r = await replay(db, ref, o.now());
      return changed('event' in r ? presentEvent(r.event) : presentJob(r.job));
    },
    reconcile: () => o.reconcile(),

    listMembers: (q) => listMembers(db, { ...(q.search ? { search: q.search } : {}), limit: q.limit }),
    importMembers: async (csv) => importMembers(db, parseMembersCsv(csv, o.config.timeZone), o.actor, o.now()),
    setMember: (email, changes) =>
      db.transaction((trx) => upsertMember(trx, { email, ...changes } as Parameters<typeof upsertMember>[1], o.now())),
    async adjustCredits(email, c) {
      const expiresAt = expiry(c.expires);
      const a = { email, amount: c.amount, actor: o.actor, ...(c.reason ? { reason: c.reason } : {}), ...(expiresAt ? { expiresAt } : {}) };
      return adjustCredits(db, a, o.now());
    },
    memberAccount: (email, historyLimit) => memberAccount(db, email, o.now(), historyLimit),
    heldBookings: () => heldBookings(db),
    approve: async (uid, a) =>
      changed(
        await decideByOperator(
          db,
          gate,
          {
            uid,
            outcome: 'approve',
            actor: a.by ?? o.actor,
            ...(a.charge !== undefined ? { charge: a.charge } : {}),
            ...(a.note ? { note: a.note } : {}),
          },
          o.now(),
        ),
      ),
    decline: async (uid, d) =>
      changed(
        await decideByOperator(
          db,
          gate,
          { uid, outcome: 'decline', actor: d.by ?? o.actor, message: d.reason, ...(d.note ? { note: d.note } : {}) },
          o.now(),
        ),
      ),
    async booking(uid) {
      const view = await bookingView(db, uid, gated);
      if (!view) throw new UsherError('NOT_FOUND', `Usher knows no booking ${uid}`);
      return view;
    },

    listRooms: (q) => listRooms(db, { includeInactive: q.all }),
    putRoom: (name, r) => {
      const open = openMinutes(r.openHours);
      const room = { name, floor: r.floor, building: r.building, equipment: r.equipment, cleaningMinutes: r.cleaningMinutes, active: true };
      const extra = { ...(open ? { open } : {}), ...(r.capacity !== undefined ? { capacity: r.capacity } : {}) };
      return roomChange(putRoom(db, rooms, { ...room, ...extra }, o.now()));
    },
    retireRoom: (name) => roomChange(retireRoom(db, rooms, name, o.now())),
    blockRoom: (room, b) => {
      const now = o.now();
      const block = { room, from: b.from ? new Date(b.from) : now, to: new Date(b.until), reason: b.reason, by: b.by ?? o.actor };
      return roomChange(blockRoom(db, rooms, block, now, { preview: b.preview === true }));
    },
    unblockRoom: (blockId, by) => roomChange(unblockRoom(db, rooms, blockId, by ?? o.actor, o.now())),
    changeBlock: (blockId, b) =>
      roomChange(
        changeBlock(db, rooms, blockId, { from: new Date(b.from), to: new Date(b.until), reason: b.reason, by: b.by ?? o.actor }, o.now(), {
          preview: b.preview === true,
        }),
      ),
    markCleaned: async (room, by) => changed(await markCleaned(db, rooms, room, by ?? o.actor, o.now())),
    moveBooking: async (uid, m) => changed(await moveBooking(db, rooms, { uid, room: m.room, by: m.by ?? o.actor }, o.now())),
    roomOptions: async (uid) => (await roomOptionsFor(db, rooms, uid)).map(presentRoomOption),
    replan: async () => changed({ plan: presentReplan(await replanUpcoming(db, rooms, o.now(), 'operator')) }),

    insights: (q) => insightsReport(db, o.config.insights, o.config.timeZone, q, o.now()),
    whatIf: (q, onProgress) => whatIf(db, rooms, o.config.insights, q, onProgress),
    listCalendarFeeds: (q) => calendarFeeds(db, q.all),
    createCalendarFeed: (f) => createFeed(db, o.config.calendars, f, o.actor, o.now()),
    revokeCalendarFeed: (id) => endFeed(db, id, o.now()),

    slots: (q) =>
      o.cal().listSlots({ eventTypeId: q.eventTypeId, start: q.from, end: q.to, ...(q.timeZone ? { timeZone: q.timeZone } : {}) }),
    async book(key, request) {
      const answer = await checkout(db, o.cal(), key, request, o.now);
      if (answer.status >= 400) {
        const e = (answer.body as { error?: { code?: string; message?: string } }).error;
        throw new UsherError('CONFLICT', `${e?.code ?? answer.status}: ${e?.message ?? 'refused'}`);
      }
      return (answer.body as { data: unknown }).data;
    },
  };
}
