import { describe, beforeEach, expect, it } from 'vitest';
import { bookingPayload, envelopeBody, sampleBooking } from '../sandbox/payloads.ts';
import { boardView } from '../board/board-view.ts';
import { bookingPresenter } from '../rooms/room-board.ts';
import { getBooking } from '../store/bookings.ts';
import { countInboxByState, listInboxEvents } from '../store/inbox.ts';
import { storeKinds } from '../../test/stores.ts';
import { postWebhook, usherPerFile } from '../../test/usher.ts';

const created = (b = sampleBooking(), extra: Record<string, unknown> = {}) =>
  envelopeBody('BOOKING_CREATED', { ...bookingPayload(b, 'BOOKING_CREATED'), ...extra }, new Date());

describe.each(storeKinds)('hostile and broken webhooks at the door on %s', (kind) => {
  const t = usherPerFile(kind);
  beforeEach(() => t.store.reset());

  // U+0000 in a uid, a trigger name, a key Cal.com echoes back, or a name: PostgreSQL's text refuses
  // it. Sent together with valid webhooks, so that they share one group insert.
  const poisons: [string, () => string][] = [
    ['a uid', () => created(sampleBooking({ uid: `bad\u0000uid-${Math.random()}` }))],
    [
      'a trigger name',
      () =>
        JSON.stringify({
          triggerEvent: `BOOKING_CREATED\u0000x${Math.random()}`,
          createdAt: new Date().toISOString(),
          payload: { uid: 'x' },
        }),
    ],
    ['a response key', () => created(sampleBooking(), { responses: { [`no\u0000te-${Math.random()}`]: { value: 'x' } } })],
    [
      'an attendee name',
      () =>
        created(
          sampleBooking({ attendee: { name: `Gr\u0000ace ${Math.random()}`, email: 'grace@example.com', timeZone: 'Europe/London' } }),
        ),
    ],
  ];

  it.each(poisons)(
    'a signed event with U+0000 in %s is kept as unprocessable, and the five sent with it are stored',
    async (_what, poison) => {
      for (let round = 0; round < 10; round++) {
        const valid = Array.from({ length: 5 }, () => sampleBooking());
        const answers = await Promise.all([postWebhook(t.usher.url, poison()), ...valid.map((b) => postWebhook(t.usher.url, created(b)))]);
        expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
        expect(answers.slice(1).map((a) => a.body.status)).toEqual(['accepted', 'accepted', 'accepted', 'accepted', 'accepted']);
        expect(['unprocessable', 'ignored']).toContain(answers[0]!.body.status);
      }
      const states = await countInboxByState(t.store.db);
      expect(states.pending).toBe(50);
      expect((states.unprocessable ?? 0) + (states.ignored ?? 0)).toBe(10);
      const kept = await listInboxEvents(t.store.db, { state: 'unprocessable', limit: 1 });
      if (kept[0]) expect(kept[0].lastError).toContain('U+0000');
      // The worker never trips on them: every stored event is handled.
      await t.usher.worker.drain();
      expect((await countInboxByState(t.store.db)).done).toBe(50);
    },
  );

  it('keeps a signed booking that ends before it starts as unprocessable, with the reason', async () => {
    const b = sampleBooking();
    const res = await postWebhook(t.usher.url, created(b, { endTime: new Date(b.start.getTime() - 60_000).toISOString() }));
    expect(res.body.status).toBe('unprocessable');
    const [event] = await listInboxEvents(t.store.db, { limit: 1 });
    expect(event?.lastError).toContain('endTime must be after startTime');
    await t.usher.worker.drain();
    expect(await getBooking(t.store.db, b.uid)).toBeUndefined();
    // Someone has to look at it: the board lists it under what needs attention, with the reason.
    const view = await boardView(
      t.store.db,
      { timeZone: 'Europe/London', title: 'Test', present: bookingPresenter({ showNames: false }), bucketsFor: () => [] },
      new Date(),
    );
    expect(view.attention.dead).toContainEqual(
      expect.objectContaining({
        ref: `evt_${event!.id}`,
        what: 'BOOKING_CREATED from Cal.com, which Usher cannot read',
        error: expect.stringContaining('endTime must be after startTime'),
      }),
    );
  });

  it.each([
    ['as the payload', 5_000],
    ['as the payload', 100_000],
    ['inside a valid booking', 5_000],
    ['inside a valid booking', 100_000],
  ])('keeps a signed body nested deep %s (%i levels) as unprocessable, or refuses it with a reason; never a 5xx', async (where, depth) => {
    const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const body =
      where === 'as the payload'
        ? `{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-12-01T08:00:00Z","payload":${deep}}`
        : created(sampleBooking()).replace('"payload":{', `"payload":{"extraNotes":{"value":${deep}},`);
    const res = await postWebhook(t.usher.url, body);
    expect(res.status).toBeLessThan(500);
    if (res.status === 200) expect(res.body.status).toBe('unprocessable');
    else expect(res.body.error.message).toMatch(/deep|nested/);
    await t.usher.worker.drain();
    expect(await countInboxByState(t.store.db)).toEqual(res.status === 200 ? { unprocessable: 1 } : {});
  });
});
