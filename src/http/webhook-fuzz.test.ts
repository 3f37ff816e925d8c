import fc from 'fast-check';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { signBody } from '../cal/verify-signature.ts';
import { knownTriggers } from '../domain/booking-event.ts';
import { bookingPayload, envelopeBody, sampleBooking } from '../sandbox/payloads.ts';
import { getInboxEvent } from '../store/inbox.ts';
import { TEST_SECRET } from '../../test/config.ts';
import { storeKinds } from '../../test/stores.ts';
import { usherPerFile } from '../../test/usher.ts';

// Bounded and seeded in the suite; a longer hunt: USHER_FUZZ_RUNS=100000 USHER_FUZZ_SEED=<n> npm run fuzz
const RUNS = Number(process.env.USHER_FUZZ_RUNS ?? 2000);
const SEED = Number(process.env.USHER_FUZZ_SEED ?? 20261201);

const realBody = () =>
  JSON.parse(
    envelopeBody('BOOKING_CREATED', bookingPayload(sampleBooking(), 'BOOKING_CREATED'), new Date('2026-12-01T08:00:00Z')),
  ) as Record<string, unknown>;

/** A real Cal.com body with one field of its payload (or the envelope) replaced by anything. */
const mutated = fc
  .record({
    where: fc.constantFrom('payload', 'envelope'),
    key: fc.oneof(
      fc.constantFrom(
        'uid',
        'startTime',
        'endTime',
        'attendees',
        'organizer',
        'status',
        'metadata',
        'responses',
        'triggerEvent',
        'createdAt',
        'eventTypeId',
        'location',
      ),
      fc.string(),
    ),
    value: fc.jsonValue({ maxDepth: 4 }),
    trigger: fc.constantFrom(...knownTriggers, 'BOOKING_TELEPORTED', ''),
  })
  .map(({ where, key, value, trigger }) => {
    const body = realBody();
    body.triggerEvent = trigger;
    if (where === 'payload') (body.payload as Record<string, unknown>)[key] = value;
    else body[key] = value;
    return Buffer.from(JSON.stringify(body));
  });

const bodies = fc.oneof(
  { weight: 4, arbitrary: mutated },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 6 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary' }).map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  {
    weight: 1,
    arbitrary: fc
      .nat({ max: 3000 })
      .map((d) => Buffer.from(`{"triggerEvent":"BOOKING_CREATED","payload":${'{"a":'.repeat(d)}1${'}'.repeat(d)}}`)),
  },
);

const cases = fc.record({
  body: bodies,
  signature: fc.oneof(
    fc.constant('valid' as const),
    fc.constant('none' as const),
    fc.string({ maxLength: 80 }),
    fc.constant('no-secret-provided'),
  ),
  contentType: fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    undefined,
  ),
});

describe.each(storeKinds)('fuzzing the webhook route on %s', (kind) => {
  const t = usherPerFile(kind);

  it(`answers ${RUNS} generated bodies and headers with no 5xx; every signed one is stored or refused with a reason`, async () => {
    await fc.assert(
      fc.asyncProperty(cases, async ({ body, signature, contentType }) => {
        const headers: Record<string, string> = {};
        if (contentType) headers['content-type'] = contentType;
        if (signature === 'valid') headers['x-cal-signature-256'] = signBody(body, TEST_SECRET);
        else if (signature !== 'none') headers['x-cal-signature-256'] = signature;
        const res = await request(`${t.usher.url}/webhooks/cal`, { method: 'POST', headers, body });
        const text = await res.body.text();
        expect(res.statusCode, text).toBeLessThan(500);
        const answer = text ? (JSON.parse(text) as { id?: number; status?: string; error?: { code: string; message: string } }) : {};
        if (res.statusCode === 200) {
          expect(signature === 'valid').toBe(true);
          expect(await getInboxEvent(t.store.db, answer.id!), 'a 200 means the event is stored').toBeDefined();
        } else {
          expect(answer.error?.code).toBeTruthy();
          expect(answer.error?.message).toBeTruthy();
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
    expect((await request(`${t.usher.url}/healthz`)).statusCode).toBe(200);
  }, 3_600_000);
});
