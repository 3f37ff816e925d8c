import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeSandbox } from '../src/cli/demo.ts';
import { importMembers } from '../src/gate/gate-operations.ts';
import type { Usher } from '../src/main.ts';
import { decisionText } from '../src/operations/reason-text.ts';
import { loadSeed } from '../src/sandbox/load-seed.ts';
import { Sandbox } from '../src/sandbox/sandbox-server.ts';
import { listBookings } from '../src/store/bookings.ts';
import { creditBalance } from '../src/store/credits.ts';
import { listDecisions } from '../src/store/decisions.ts';
import { listJobs } from '../src/store/jobs.ts';
import { getAssignment } from '../src/store/rooms.ts';
import { TEST_SECRET } from './config.ts';
import { openTestStore, storeKinds, type TestStore } from './stores.ts';
import { startTestUsher, tomorrowAt, until } from './usher.ts';

// The issue's acceptance (#14): a clinic's account with in-person and video appointment types, a
// seated class, team events (collective and round robin, and a booking reassigned between doctors),
// a recurring course and a gated members'
// session runs through the sandbox for a week — its traffic compressed into seconds, with a tenth of
// the webhooks lost and a tenth sent twice, healed by the reconciler — and then: no video link
// touched, no past booking written, no credit wrong, every room decision explained, and Usher's
// bookings the same as Cal.com's.
const KEY = 'cal_sandbox_demo_key'; // Dr Byron's: the organisation's admin
const DEMO_CONFIG = readFileSync(new URL('../demo/usher.config.yaml', import.meta.url), 'utf8');
const YAML = DEMO_CONFIG.replace(/^reconciler:\n {2}intervalSeconds: 30\n/m, 'reconciler: { intervalSeconds: 0 }\n')
  .replace(/^worker:\n {2}pollIntervalMs: 200\n/m, 'worker: { pollIntervalMs: 20 }\n')
  .replace(/^cal:\n/m, 'cal:\n  rateLimit: { requestsPerWindow: 5000, locationRequestsPerWindow: 5000, windowSeconds: 60 }\n');
const MEMBERS = ['mia@example.com', 'max@example.com', 'mo@example.com'];
const DAY = 86_400_000;

describe.each(storeKinds)('a simulated week of a clinic’s Cal.com account on %s', (kind) => {
  let store: TestStore;
  let sandbox: Sandbox;
  let usher: Usher;
  const made = {
    video: [] as string[],
    consult: [] as string[],
    physio: [] as string[],
    classes: [] as string[],
    course: [] as string[],
    joint: [] as string[],
  };
  let reassigned = '';
  let past = '';

  const cal = async (method: 'POST' | 'GET', path: string, body?: unknown, key?: string) => {
    const res = await request(sandbox.url + path, {
      method,
      headers: { 'cal-api-version': '2024-08-13', 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.body.json()) as { data: { uid: string; seatUid?: string } & { uid: string }[] };
    expect(res.statusCode, `${method} ${path}: ${JSON.stringify(json)}`).toBeLessThan(300);
    return json.data;
  };
  const book = (eventTypeId: number, at: Date, who: string, extra: Record<string, unknown> = {}) =>
    cal('POST', '/v2/bookings', {
      start: at.toISOString(),
      eventTypeId,
      attendee: { name: who, email: `${who.toLowerCase().replace(/\W+/g, '.')}@example.com`, timeZone: 'Europe/London' },
      ...extra,
    });

  beforeAll(async () => {
    store = await openTestStore(kind);
    let seed = 11;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    sandbox = new Sandbox({
      seed: loadSeed(),
      random,
      requestsPerMinute: 5000,
      anonymousRequestsPerMinute: 5000,
      locationRequestsPerMinute: 5000,
    });
    await sandbox.listen(0, '127.0.0.1', 0);
    usher = await startTestUsher(store, { runWorker: true, env: { CAL_API_URL: sandbox.url, CAL_API_KEY: KEY }, yaml: YAML });
    await subscribeSandbox(sandbox.url, KEY, usher.url, TEST_SECRET);
    await importMembers(
      store.db,
      MEMBERS.map((email, i) => ({ line: i + 1, email, credits: 2 })),
      'test',
      new Date(),
    );
    sandbox.sender.faults = { dropRate: 0.1, duplicateRate: 0.1, delayMs: 0 };

    const at = (day: number, hour: number, minute = 0) => new Date(tomorrowAt(hour, minute).getTime() + day * DAY);
    for (let d = 0; d < 7; d++) {
      made.consult.push((await book(7, at(d, 9), `Pat D${d}a`)).uid, (await book(7, at(d, 9, 30), `Pat D${d}b`)).uid);
      made.video.push((await book(11, at(d, 10), `Vic D${d}`)).uid);
      await book(10, at(d, 9), `Xena D${d}`);
      await book(12, at(d, 11), `Fay D${d}`);
      // A joint assessment with Dr Somerville and Dr Turing (collective), and triage (round robin).
      made.joint.push((await book(16, at(d, 14), `Jo D${d}`)).uid);
      await book(17, at(d, 15), `Tri D${d}`);
      // Members' physio (gated, one credit): two a week each; the seventh day someone unknown (held).
      const who = d < 6 ? MEMBERS[d % 3]! : 'stranger@example.com';
      made.physio.push(
        (
          await cal('POST', '/v2/bookings', {
            start: at(d, 13).toISOString(),
            eventTypeId: 9,
            attendee: { name: who.split('@')[0], email: who, timeZone: 'Europe/London' },
          })
        ).uid,
      );
      // A back-care class of three.
      const seats = [];
      for (const n of ['Cy', 'Di', 'Ed']) seats.push(await book(14, at(d, 16), `${n} D${d}`));
      made.classes.push(seats[0]!.uid);
      if (d === 1) await cal('POST', `/v2/bookings/${seats[0]!.uid}/cancel`, { seatUid: seats[1]!.seatUid });
    }
    // A weekly course of four, the rest cancelled from the second week.
    const course = (await book(15, at(0, 12), 'Gus Course', { recurrenceCount: 4 })) as unknown as { uid: string }[];
    made.course.push(...course.map((c) => c.uid));
    await cal('POST', `/v2/bookings/${made.course[1]}/cancel`, { cancellationReason: 'Moving away', cancelSubsequentBookings: true });
    // A patient cancels, another reschedules; a consultation goes to Dr Turing (X-ray and ECG rooms only).
    await cal('POST', `/v2/bookings/${made.consult[2]}/cancel`, { cancellationReason: 'Feeling better' });
    made.consult.push((await cal('POST', `/v2/bookings/${made.consult[5]}/reschedule`, { start: at(2, 14).toISOString() })).uid);
    reassigned = made.consult[8]!;
    await cal('POST', `/v2/bookings/${reassigned}/reassign/6`, {}, KEY);
    // A booking from the day before yesterday that no webhook ever told Usher of.
    const host = sandbox.state.eventTypes.get(7)!;
    past = sandbox.state.newBooking(
      {
        eventTypeId: 7,
        hostId: host.hostId,
        attendee: { name: 'Old Timer', email: 'old@example.com', timeZone: 'Europe/London' },
        start: new Date(tomorrowAt(9).getTime() - 3 * DAY),
        end: new Date(tomorrowAt(9, 30).getTime() - 3 * DAY),
        status: 'accepted',
        location: host.location,
        metadata: {},
      },
      new Date(),
    ).uid;
    await sandbox.sender.settle();
    sandbox.sender.faults = { dropRate: 0, duplicateRate: 0, delayMs: 0 };

    // The reconciler heals what was lost; the outbox's calls (confirmations, rooms) run out.
    await until(
      'Usher and Cal.com agree, and every call to Cal.com is made',
      async () => {
        await usher.reconcile();
        await sandbox.sender.settle();
        const busy = await store.db.query<{ n: number }>(
          `select (select count(*) from inbox_events where state in ('pending','running'))::int +
                  (select count(*) from jobs where state in ('pending','running'))::int as n`,
        );
        if (busy.rows[0]!.n > 0) return false;
        const mine = new Map((await listBookings(store.db, { limit: 10_000 })).map((b) => [b.uid, b]));
        return [...sandbox.state.bookings.values()].every(
          (b) =>
            mine.get(b.uid)?.status === b.status &&
            (!b.seats || b.status !== 'accepted' || mine.get(b.uid)?.seats?.length === b.seats.length),
        );
      },
      90_000,
    ).catch(async (error: unknown) => {
      // Seen once in a full far-date run and not since: say what was still waiting, and why.
      const busy = await store.db.query(
        `select 'event' as what, id, trigger as kind, state, attempts, run_at, last_error from inbox_events where state in ('pending', 'running')
         union all
         select 'job', id, kind, state, attempts, run_at, last_error from jobs where state in ('pending', 'running')
         order by 1, 2 limit 20`,
      );
      const mine = new Map((await listBookings(store.db, { limit: 10_000 })).map((b) => [b.uid, b]));
      // Every way the wait's condition can differ: the status, and the seats of an accepted seated booking.
      const differ = [...sandbox.state.bookings.values()]
        .filter(
          (b) =>
            mine.get(b.uid)?.status !== b.status ||
            (b.seats && b.status === 'accepted' && mine.get(b.uid)?.seats?.length !== b.seats.length),
        )
        .map(
          (b) =>
            `${b.uid}: ${b.status} / ${mine.get(b.uid)?.status}${b.seats ? ` (seats ${b.seats.length} / ${mine.get(b.uid)?.seats?.length})` : ''}`,
        );
      throw new Error(
        `${(error as Error).message} at ${new Date().toISOString()}; still busy: ${JSON.stringify(busy.rows)}; differing: ${differ.slice(0, 10).join(', ')}`,
      );
    });
    expect(sandbox.sender.deliveries.filter((d) => d.status === 'dropped').length, 'some webhooks were lost').toBeGreaterThan(5);
  }, 180_000);
  afterAll(async () => {
    await sandbox?.close();
    await usher?.close();
    await store?.close();
  });

  it('ends with every booking as Cal.com has it, classes with their seats', async () => {
    const mine = new Map((await listBookings(store.db, { limit: 10_000 })).map((b) => [b.uid, b]));
    for (const b of sandbox.state.bookings.values()) {
      expect(mine.get(b.uid), b.uid).toMatchObject({ status: b.status, start: b.start });
      if (b.seats && b.status === 'accepted') expect(mine.get(b.uid)?.seats?.length, `seats of ${b.uid}`).toBe(b.seats.length);
    }
  });

  it('touches no video link and writes nothing to a booking that had ended', async () => {
    for (const uid of [...made.video, past]) {
      expect(sandbox.state.bookings.get(uid)?.location, uid).toBe(
        sandbox.state.eventTypes.get(sandbox.state.bookings.get(uid)!.eventTypeId)!.location,
      );
      expect(
        (await listJobs(store.db, { bookingUid: uid, limit: 10 })).filter((j) => j.kind === 'cal.location'),
        uid,
      ).toEqual([]);
    }
  });

  it('gives every in-person booking ahead a room, written into Cal.com, by the rules (a reassigned one in its new doctor’s rooms)', async () => {
    const ahead = [...sandbox.state.bookings.values()].filter(
      (b) =>
        b.status === 'accepted' &&
        b.start > new Date() &&
        !sandbox.state.eventTypes.get(b.eventTypeId)!.location.startsWith('integrations:'),
    );
    expect(ahead.length).toBeGreaterThan(40);
    for (const b of ahead) {
      const a = await getAssignment(store.db, b.uid);
      expect(a?.room, `room of ${b.uid}`).toBeTruthy();
      expect(b.location, `Cal.com's location of ${b.uid}`).toBe(a!.locationText);
    }
    // Dr Turing may use 2A, 2B and 3A only: his reassigned consultation, and every joint assessment he is in.
    for (const uid of [reassigned, ...made.joint]) expect(['2A', '2B', '3A'], uid).toContain((await getAssignment(store.db, uid))?.room);
    for (const uid of made.course.slice(1)) expect(await getAssignment(store.db, uid), uid).toBeUndefined();
  });

  it('gets every credit right: each member pays for exactly the physio sessions Cal.com holds as accepted', async () => {
    for (const email of MEMBERS) {
      const accepted = [...sandbox.state.bookings.values()].filter(
        (b) => b.eventTypeId === 9 && b.status === 'accepted' && b.attendee.email === email,
      ).length;
      const balance = await creditBalance(store.db, email, new Date());
      expect({ email, spent: balance.held + balance.captured, left: balance.available }).toEqual({
        email,
        spent: accepted,
        left: 2 - accepted,
      });
    }
    expect(sandbox.state.bookings.get(made.physio[6]!)?.status, 'the stranger is held for a person').toBe('pending');
  });

  it('explains every room decision in words, with no code showing', async () => {
    const decisions = await listDecisions(store.db, { kinds: ['room'], limit: 1000 });
    expect(decisions.length).toBeGreaterThan(40);
    for (const d of decisions) expect(decisionText(d), JSON.stringify(d.reasons)).not.toMatch(/\b(room|credits|gate)\.[a-z_]+|undefined/);
  });
});
