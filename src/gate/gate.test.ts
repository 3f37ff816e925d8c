import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sampleBooking, type PayloadBooking } from '../sandbox/payloads.ts';
import { creditBalance, getHold } from '../store/credits.ts';
import { listDecisions } from '../store/decisions.ts';
import { getGateRecord } from '../store/gate-decisions.ts';
import { listInboxEvents } from '../store/inbox.ts';
import { listJobs } from '../store/jobs.ts';
import { EventPipeline, gateDeps } from '../../test/event-pipeline.ts';
import { recordedDb } from '../../test/recorded-db.ts';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';
import { adjustCredits, decideByOperator, importMembers } from './gate-operations.ts';
import type { GateDeps } from './decide-request.ts';

const YAML = `
timeZone: Europe/London
gate:
  cancellationWindowHours: 24
eventTypes:
  "9": { title: Physio, gate: { creditCost: 1, maxBookingsPerMember: { week: 2 } } }
`;

const grace = 'grace@example.com';
// The clock starts 2026-12-01 08:00Z; sessions are two days later, well inside any window.
const session = (over: Partial<PayloadBooking> = {}) =>
  sampleBooking({
    eventTypeId: 9,
    eventTypeSlug: 'physio',
    requiresConfirmation: true,
    status: 'PENDING',
    start: new Date('2026-12-03T10:00:00Z'),
    ...over,
  });

/** The booking Cal.com makes when `from` is moved to `start` (CONTRACT §1.3: a new uid). */
const movedFrom = (from: PayloadBooking, id: number, start: string, more: Partial<PayloadBooking> = {}) =>
  session({ id, start: new Date(start), reschedule: { id: from.id, uid: from.uid, start: from.start, end: from.end }, ...more });

describe.each(storeKinds)('the gate on %s', (kind) => {
  let store: TestStore;
  let deps: GateDeps;
  let cal: EventPipeline;
  beforeAll(async () => {
    store = await openTestStore(kind);
    deps = gateDeps(YAML);
  });
  afterAll(() => store.close());
  beforeEach(async () => {
    await store.reset();
    cal = new EventPipeline(store.db, deps);
  });

  const member = (credits: number, email = grace) =>
    importMembers(store.db, [{ line: 1, email, name: 'Grace Hopper', credits }], 'test', cal.clock.now());
  const balance = (email = grace) => creditBalance(store.db, email, cal.clock.now());
  const jobsOf = async (uid: string) =>
    (await listJobs(store.db, { bookingUid: uid, limit: 10 })).map((j) => ({ kind: j.kind, state: j.state, payload: j.payload }));

  /** A session requested and confirmed through the gate: its credit captured. */
  const confirmedSession = async () => {
    const b = session();
    await cal.deliver('BOOKING_REQUESTED', b);
    await cal.deliver('BOOKING_CREATED', { ...b, status: 'ACCEPTED' }, { viaConfirm: true });
    return b;
  };

  it('approves a member with enough credits: holds one and writes the confirm call; BOOKING_CREATED captures it', async () => {
    await member(2);
    const b = session();
    await cal.deliver('BOOKING_REQUESTED', b);
    expect(await getGateRecord(store.db, b.uid)).toMatchObject({ outcome: 'approve', decidedBy: 'policy', memberEmail: grace });
    expect(await jobsOf(b.uid)).toEqual([{ kind: 'cal.confirm', state: 'pending', payload: { uid: b.uid } }]);
    expect(await balance()).toMatchObject({ available: 1, held: 1, captured: 0 });

    await cal.deliver('BOOKING_CREATED', { ...b, status: 'ACCEPTED' }, { viaConfirm: true });
    expect(await getHold(store.db, b.uid)).toMatchObject({ state: 'captured', amount: 1 });
    expect(await balance()).toMatchObject({ available: 1, held: 0, captured: 1 });
  });

  it('declines a member without credits with the reason text, and takes nothing', async () => {
    await member(0);
    const b = session({ attendee: { name: 'Grace Hopper', email: 'GRACE@Example.com', timeZone: 'Europe/London' } });
    await cal.deliver('BOOKING_REQUESTED', b);
    expect(await jobsOf(b.uid)).toEqual([
      { kind: 'cal.decline', state: 'pending', payload: { uid: b.uid, reason: 'Not enough credits: 0 of 1 needed' } },
    ]);
    const record = await getGateRecord(store.db, b.uid);
    expect(record?.reasons).toContainEqual(expect.objectContaining({ code: 'credits.insufficient', available: 0, needed: 1 }));
    expect(await getHold(store.db, b.uid)).toBeUndefined();
  });

  it('decides a booking once: a repeated BOOKING_REQUESTED takes no second credit and writes no second call', async () => {
    await member(5);
    const b = session();
    await cal.deliver('BOOKING_REQUESTED', b);
    await cal.deliver('BOOKING_REQUESTED', b, { extra: { description: 'delivered again by a second subscription' } });
    expect(await jobsOf(b.uid)).toHaveLength(1);
    expect(await balance()).toMatchObject({ available: 4, held: 1 });
  });

  it('leaves event types without a gate alone, and says so', async () => {
    await member(5);
    const b = session({ eventTypeId: 7 });
    await cal.deliver('BOOKING_REQUESTED', b);
    expect(await jobsOf(b.uid)).toEqual([]);
    const [decision] = await listDecisions(store.db, { bookingUid: b.uid, limit: 1 });
    expect(decision).toMatchObject({ kind: 'gate', outcome: 'not_gated' });
  });

  it('counts the member’s live bookings against the weekly limit', async () => {
    await member(10);
    const first = session({ start: new Date('2026-12-01T12:00:00Z') });
    const second = session({ start: new Date('2026-12-03T12:00:00Z') });
    const third = session({ start: new Date('2026-12-04T12:00:00Z') });
    const nextWeek = session({ start: new Date('2026-12-08T12:00:00Z') });
    for (const b of [first, second, third, nextWeek]) await cal.deliver('BOOKING_REQUESTED', b);
    expect((await getGateRecord(store.db, first.uid))?.outcome).toBe('approve');
    expect((await getGateRecord(store.db, second.uid))?.outcome).toBe('approve');
    expect(await getGateRecord(store.db, third.uid)).toMatchObject({ outcome: 'decline', message: 'Limit reached: 2 bookings per week' });
    expect((await getGateRecord(store.db, nextWeek.uid))?.outcome).toBe('approve');
    // a cancelled booking frees its place in the week
    await cal.deliver('BOOKING_CANCELLED', { ...first, status: 'CANCELLED' });
    const fourth = session({ start: new Date('2026-12-05T12:00:00Z') });
    await cal.deliver('BOOKING_REQUESTED', fourth);
    expect((await getGateRecord(store.db, fourth.uid))?.outcome).toBe('approve');
  });

  it('releases the credits when the booking is rejected in Cal.com, and withdraws the unsent confirm', async () => {
    await member(1);
    const b = session();
    await cal.deliver('BOOKING_REQUESTED', b);
    await cal.deliver('BOOKING_REJECTED', { ...b, status: 'REJECTED', rejectionReason: 'Therapist ill' });
    expect(await getHold(store.db, b.uid)).toMatchObject({ state: 'released' });
    expect(await jobsOf(b.uid)).toEqual([{ kind: 'cal.confirm', state: 'superseded', payload: { uid: b.uid } }]);
    expect(await balance()).toMatchObject({ available: 1, held: 0 });
    const decisions = await listDecisions(store.db, { bookingUid: b.uid, limit: 10 });
    expect(decisions.map((d) => `${d.kind}:${d.outcome}`)).toContain('gate:respected');
  });

  it('refunds a cancellation in the window, keeps the credit for a late one, refunds when the host cancels', async () => {
    await member(3);
    const early = session();
    const late = session({ start: new Date('2026-12-01T20:00:00Z') });
    const byHost = session({ start: new Date('2026-12-01T21:00:00Z') });
    for (const b of [early, late, byHost]) {
      await cal.deliver('BOOKING_REQUESTED', b);
      await cal.deliver('BOOKING_CREATED', { ...b, status: 'ACCEPTED' }, { viaConfirm: true });
    }
    expect(await balance()).toMatchObject({ available: 0, captured: 3 });
    await cal.deliver('BOOKING_CANCELLED', { ...early, status: 'CANCELLED' });
    await cal.deliver('BOOKING_CANCELLED', { ...late, status: 'CANCELLED' });
    await cal.deliver('BOOKING_CANCELLED', { ...byHost, status: 'CANCELLED' }, { extra: { cancelledBy: 'Ada@Clinic.example' } });
    expect(await getHold(store.db, early.uid)).toMatchObject({ state: 'refunded' });
    expect(await getHold(store.db, late.uid)).toMatchObject({ state: 'forfeited' });
    expect(await getHold(store.db, byHost.uid)).toMatchObject({ state: 'refunded' });
    expect(await balance()).toMatchObject({ available: 2, captured: 0, forfeited: 1 });
    // a repeated cancellation does nothing twice
    await cal.deliver('BOOKING_CANCELLED', { ...early, status: 'CANCELLED' }, { extra: { cancellationReason: 'again' } });
    expect(await balance()).toMatchObject({ available: 2 });
  });

  it('moves the credit to the new uid on a reschedule: no second charge, captured once', async () => {
    await member(1);
    const b = await confirmedSession();
    // CONTRACT §1.2: a requires-confirmation reschedule by the booker arrives as BOOKING_REQUESTED with rescheduleUid
    const moved = movedFrom(b, 1002, '2026-12-04T10:00:00Z');
    await cal.deliver('BOOKING_REQUESTED', moved);
    expect(await getGateRecord(store.db, moved.uid)).toMatchObject({ outcome: 'approve' });
    expect(await getHold(store.db, moved.uid)).toMatchObject({ state: 'captured', amount: 1 });
    expect(await getHold(store.db, b.uid)).toBeUndefined();
    expect(await balance()).toMatchObject({ available: 0, held: 0, captured: 1 });
    await cal.deliver('BOOKING_CREATED', { ...moved, status: 'ACCEPTED', reschedule: undefined }, { viaConfirm: true });
    expect(await balance()).toMatchObject({ available: 0, captured: 1 });

    // an owner's reschedule is confirmed by default and arrives as BOOKING_RESCHEDULED
    const again = movedFrom(moved, 1003, '2026-12-05T10:00:00Z', { status: 'ACCEPTED' });
    await cal.deliver('BOOKING_RESCHEDULED', again);
    expect(await getHold(store.db, again.uid)).toMatchObject({ state: 'captured', amount: 1 });
    expect(await balance()).toMatchObject({ available: 0, captured: 1 });
  });

  it("handles a reschedule and the old booking's late cancellation in one worker batch as one after the other", async () => {
    await member(1);
    const b = await confirmedSession();
    const moved = movedFrom(b, 1004, '2026-12-05T10:00:00Z', { status: 'ACCEPTED' });
    // Both stored before the worker runs: one batch reads for both at once (BatchReads), and the
    // old booking's hold, read before the reschedule moved it, must not be what the cancellation sees.
    await cal.store('BOOKING_RESCHEDULED', moved);
    await cal.store('BOOKING_CANCELLED', { ...b, status: 'CANCELLED' }, { extra: { cancelledBy: 'Ada@Clinic.example' } });
    await cal.run();
    expect(await getHold(store.db, moved.uid)).toMatchObject({ state: 'captured', amount: 1 });
    expect(await getHold(store.db, b.uid)).toBeUndefined();
    expect(await balance()).toMatchObject({ available: 0, captured: 1 });
  });

  it("decides a member's requests in one worker batch one after the other: the first's credit and approval count for the next", async () => {
    // All stored before the worker runs: one batch, one transaction. Each request's reads go out
    // at once behind the member's lock (decide-request.ts); they must still see what the requests
    // before it in the batch wrote.
    await member(1);
    const first = session({ id: 2001 });
    const second = session({ id: 2002, start: new Date('2026-12-03T12:00:00Z') });
    await cal.store('BOOKING_REQUESTED', first);
    await cal.store('BOOKING_REQUESTED', second);
    await cal.run();
    expect(await getGateRecord(store.db, first.uid)).toMatchObject({ outcome: 'approve' });
    const declined = await getGateRecord(store.db, second.uid);
    expect(declined).toMatchObject({ outcome: 'decline' });
    expect(declined?.reasons).toContainEqual(expect.objectContaining({ code: 'credits.insufficient', available: 0 }));
    expect(await balance()).toMatchObject({ available: 0, held: 1 });

    // The weekly limit (2) counts the approvals made earlier in the same batch.
    await adjustCredits(store.db, { email: grace, amount: 5, actor: 'test' }, cal.clock.now());
    const week = [2003, 2004, 2005].map((id, i) => session({ id, start: new Date(`2026-12-0${4 + i}T10:00:00Z`) }));
    for (const b of week) await cal.store('BOOKING_REQUESTED', b);
    await cal.run();
    const outcomes = await Promise.all(week.map(async (b) => (await getGateRecord(store.db, b.uid))?.outcome));
    expect(outcomes).toEqual(['approve', 'decline', 'decline']);
    const third = await getGateRecord(store.db, week[2]!.uid);
    expect(third?.reasons).toContainEqual(expect.objectContaining({ code: 'limit.reached', booked: 2 }));
    expect(await balance()).toMatchObject({ available: 4, held: 2 });
  });

  it('names the call it wrote in its decision, without waiting for the store; a later decision names the call it replaced', async () => {
    await member(2);
    const b = session();
    const { sent, db } = recordedDb(store.db);
    const pipeline = new EventPipeline(db, deps, cal.clock);
    await pipeline.deliver('BOOKING_REQUESTED', b);
    const jobs = await listJobs(store.db, { bookingUid: b.uid, limit: 10 });
    expect(jobs.map((j) => j.kind)).toEqual(['cal.confirm']);
    const gateDecisions = async () => listDecisions(store.db, { bookingUid: b.uid, kinds: ['gate'], limit: 10 });
    expect((await gateDecisions())[0]).toMatchObject({ outcome: 'approve', detail: { creditsHeld: 1, job: `job_${jobs[0]!.id}` } });
    expect(await balance()).toMatchObject({ available: 1, held: 1 });
    // The hold, the call and the decision went out without a wait of their own (db.ts later).
    expect(sent.filter((s) => /insert into (jobs|credit_holds|decisions)/.test(s.sql))).toEqual([]);

    // The desk declines before the confirm went out: the unsent call is replaced, and named again.
    await decideByOperator(
      store.db,
      deps,
      { uid: b.uid, outcome: 'decline', actor: 'desk', message: 'Closed for repairs' },
      cal.clock.now(),
    );
    const after = await listJobs(store.db, { bookingUid: b.uid, limit: 10 });
    expect(after.map((j) => [j.id, j.kind])).toEqual([[jobs[0]!.id, 'cal.decline']]);
    const operator = (await gateDecisions()).find((d) => d.outcome === 'decline');
    expect(operator?.detail).toMatchObject({ by: 'desk', message: 'Closed for repairs', job: `job_${jobs[0]!.id}` });
  });

  it('captures the credit a reschedule moved when the new booking is accepted at once', async () => {
    await member(1);
    const b = session();
    await cal.deliver('BOOKING_REQUESTED', b);
    expect(await getHold(store.db, b.uid)).toMatchObject({ state: 'held' });
    // The host moves the booking before it was confirmed; the new one is accepted at once. The
    // event reads the new booking's hold twice: before the credit moves to it (none) and after.
    const moved = movedFrom(b, 1005, '2026-12-05T11:00:00Z', { status: 'ACCEPTED' });
    await cal.deliver('BOOKING_RESCHEDULED', moved);
    expect(await getHold(store.db, moved.uid)).toMatchObject({ state: 'captured', amount: 1 });
    expect(await balance()).toMatchObject({ available: 0, held: 0, captured: 1 });
  });

  it('respects a person who confirmed in Cal.com before Usher’s decline went out', async () => {
    await member(0);
    const b = session();
    await cal.deliver('BOOKING_REQUESTED', b);
    expect((await getGateRecord(store.db, b.uid))?.outcome).toBe('decline');
    await adjustCredits(store.db, { email: grace, amount: 1, actor: 'test' }, cal.clock.now());
    await cal.deliver('BOOKING_CREATED', { ...b, status: 'ACCEPTED' }, { viaConfirm: true });
    expect(await jobsOf(b.uid)).toEqual([expect.objectContaining({ kind: 'cal.decline', state: 'superseded' })]);
    // the person's decision stands, and the member pays for it when they can
    expect(await getHold(store.db, b.uid)).toMatchObject({ state: 'captured' });
    const decisions = await listDecisions(store.db, { bookingUid: b.uid, limit: 10 });
    expect(decisions.find((d) => d.outcome === 'respected')?.reasons[0]).toMatchObject({
      code: 'gate.confirmed_in_cal',
      usherOutcome: 'decline',
    });
  });

  it('never declines because Usher failed: the event retries, the booking stays pending with no call, then is decided', async () => {
    await member(1);
    const b = session();
    await store.db.exec('alter table members rename to members_unavailable');
    try {
      await cal.deliver('BOOKING_REQUESTED', b);
      expect(await jobsOf(b.uid)).toEqual([]);
      expect(await getGateRecord(store.db, b.uid)).toBeUndefined();
      const [event] = await listInboxEvents(store.db, { bookingUid: b.uid, limit: 1 });
      expect(event).toMatchObject({ state: 'pending', attempts: 1 });
      expect(event?.lastError).toContain('members');
    } finally {
      await store.db.exec('alter table members_unavailable rename to members');
    }
    cal.clock.advance(60_000);
    await cal.run();
    expect(await jobsOf(b.uid)).toEqual([{ kind: 'cal.confirm', state: 'pending', payload: { uid: b.uid } }]);
  });

  it('holds an unknown member for a person when configured; the operator approves or declines through the same outbox', async () => {
    const holdDeps = gateDeps(`${YAML}\n`.replace('cancellationWindowHours: 24', 'cancellationWindowHours: 24\n  unknownMember: hold'));
    cal = new EventPipeline(store.db, holdDeps);
    const stranger = session({ attendee: { name: 'Alan Turing', email: 'alan@example.com', timeZone: 'Europe/London' } });
    const other = session({
      attendee: { name: 'Alan Turing', email: 'alan@example.com', timeZone: 'Europe/London' },
      start: new Date('2026-12-04T10:00:00Z'),
    });
    await cal.deliver('BOOKING_REQUESTED', stranger);
    await cal.deliver('BOOKING_REQUESTED', other);
    expect(await getGateRecord(store.db, stranger.uid)).toMatchObject({ outcome: 'hold' });
    expect(await jobsOf(stranger.uid)).toEqual([]);

    // approving with a charge needs credits the stranger does not have: a clear refusal, nothing written
    await expect(
      decideByOperator(store.db, holdDeps, { uid: stranger.uid, outcome: 'approve', actor: 'desk' }, cal.clock.now()),
    ).rejects.toThrow(/has 0 of 1 credits/);
    await decideByOperator(store.db, holdDeps, { uid: stranger.uid, outcome: 'approve', actor: 'desk', charge: false }, cal.clock.now());
    expect(await getGateRecord(store.db, stranger.uid)).toMatchObject({ outcome: 'approve', decidedBy: 'operator:desk' });
    expect(await jobsOf(stranger.uid)).toEqual([{ kind: 'cal.confirm', state: 'pending', payload: { uid: stranger.uid } }]);

    await decideByOperator(
      store.db,
      holdDeps,
      { uid: other.uid, outcome: 'decline', actor: 'desk', message: 'Please join the club first' },
      cal.clock.now(),
    );
    expect(await jobsOf(other.uid)).toEqual([
      { kind: 'cal.decline', state: 'pending', payload: { uid: other.uid, reason: 'Please join the club first' } },
    ]);
    // and an operator's change of mind replaces the unsent call
    await decideByOperator(store.db, holdDeps, { uid: other.uid, outcome: 'approve', actor: 'desk', charge: false }, cal.clock.now());
    expect(await jobsOf(other.uid)).toEqual([{ kind: 'cal.confirm', state: 'pending', payload: { uid: other.uid } }]);
  });

  it('a late BOOKING_REQUESTED after the booking was cancelled decides nothing', async () => {
    await member(1);
    const b = session();
    await cal.deliver('BOOKING_CANCELLED', { ...b, status: 'CANCELLED' });
    await cal.deliver('BOOKING_REQUESTED', b);
    expect(await jobsOf(b.uid)).toEqual([]);
    expect(await balance()).toMatchObject({ available: 1, held: 0 });
  });

  it('the database refuses an overdraft even if the application lock were skipped', async () => {
    await member(1);
    const lot = await store.db.query<{ id: string }>('select id from credit_lots where member_email = $1', [grace]);
    await expect(
      store.db.query(`insert into credit_ledger (member_email, kind, amount, lot_id, actor, at) values ($1, 'hold', -2, $2, 'test', $3)`, [
        grace,
        lot.rows[0]!.id,
        new Date(),
      ]),
    ).rejects.toThrow(/credit_lots_remaining_check|check constraint/);
    expect(await balance()).toMatchObject({ available: 1 });
  });

  it('importing the same members file twice grants nothing the second time', async () => {
    const rows = [
      { line: 1, email: grace, credits: 3 },
      { line: 2, email: 'alan@example.com', credits: 0 },
    ];
    expect(await importMembers(store.db, rows, 'test', cal.clock.now())).toEqual({ created: 2, updated: 0, credited: 3 });
    expect(await importMembers(store.db, rows, 'test', cal.clock.now())).toEqual({ created: 0, updated: 2, credited: 0 });
    expect(await balance()).toMatchObject({ available: 3 });
  });
});
